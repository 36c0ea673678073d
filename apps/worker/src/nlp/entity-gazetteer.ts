/**
 * Word lists that sort proper-noun phrases into people, organizations and places. wink's
 * English lite model tags proper nouns but has no person/organization/place recognizer, so
 * these cues do it: a title before a name, a legal or institutional word in an organization's
 * name, and the names of countries, regions and large cities. All lower case.
 */

const list = (words: string): ReadonlySet<string> => new Set(words.trim().split(/\s*\|\s*/));

/** Words before a person's name ("Dr. Jane Smith"). */
export const PERSON_TITLES = list(`
  mr | mr. | mrs | mrs. | ms | ms. | miss | dr | dr. | prof | prof. | professor | sir | dame | lord | lady | president |
  senator | governor | mayor | judge | justice | minister | chancellor | king | queen | prince | princess | pope |
  saint | st. | captain | general | colonel | sergeant | rev. | reverend | father | sister | ceo | chairman | chairwoman
`);

/** Common given names: a two- or three-word name starting with one is a person's. */
export const GIVEN_NAMES = list(`
  aaron | adam | alan | albert | alex | alexander | alice | amanda | amy | andrew | angela | anna | anne | anthony |
  barack | barbara | ben | benjamin | bill | bob | brian | carl | carol | catherine | charles | chris | christopher |
  daniel | david | deborah | donald | dorothy | edward | elizabeth | emily | emma | eric | frank | gary | george |
  grace | hannah | harry | helen | henry | jack | james | jane | jason | jeff | jennifer | jessica | joe | john |
  joseph | joshua | julia | karen | kate | kevin | laura | linda | lisa | margaret | maria | mark | martin | mary |
  matthew | michael | michelle | nancy | olivia | patricia | paul | peter | rachel | richard | robert | ryan | sam |
  samuel | sarah | scott | sophie | steve | steven | susan | thomas | tim | timothy | tom | victoria | william |
  angela | emmanuel | vladimir | xi | narendra | joe | kamala | elon | jeff | tim | satya | sundar | marie | pierre |
  jean | hans | klaus | giuseppe | carlos | jose | juan | luis | ana | sofia | mohammed | ahmed | ali | fatima |
  wei | li | hiroshi | yuki | ivan | olga | nikolai | lars | ingrid
`);

/** Words that end (or start, followed by "of") an organization's name. */
export const ORGANIZATION_WORDS = list(`
  inc | inc. | corp | corp. | corporation | co | co. | company | ltd | ltd. | llc | plc | gmbh | ag | sa | s.a. |
  group | holdings | bank | university | college | institute | foundation | association | agency | ministry |
  department | council | committee | commission | organization | organisation | society | union | party | labs |
  laboratories | technologies | systems | partners | press | times | post | news | airlines | motors | federation |
  league | club | fund | trust | board | bureau | office | parliament | congress | senate | court | school | hospital |
  church | army | navy | police
`);

/** Countries, regions and large cities. */
export const PLACES = list(`
  afghanistan | albania | algeria | argentina | armenia | australia | austria | azerbaijan | bangladesh | belarus |
  belgium | bolivia | bosnia | brazil | bulgaria | cambodia | cameroon | canada | chile | china | colombia | croatia |
  cuba | cyprus | czechia | czech republic | denmark | ecuador | egypt | england | estonia | ethiopia | finland |
  france | georgia | germany | ghana | greece | guatemala | hungary | iceland | india | indonesia | iran | iraq |
  ireland | israel | italy | jamaica | japan | jordan | kazakhstan | kenya | korea | south korea | north korea |
  kuwait | latvia | lebanon | libya | lithuania | luxembourg | malaysia | mali | malta | mexico | moldova | mongolia |
  morocco | mozambique | myanmar | nepal | netherlands | new zealand | nigeria | norway | pakistan | panama | peru |
  philippines | poland | portugal | qatar | romania | russia | rwanda | saudi arabia | scotland | senegal | serbia |
  singapore | slovakia | slovenia | somalia | south africa | spain | sri lanka | sudan | sweden | switzerland |
  syria | taiwan | tanzania | thailand | tunisia | turkey | uganda | ukraine | united arab emirates |
  united kingdom | uk | united states | united states of america | usa | us | america | uruguay | uzbekistan |
  venezuela | vietnam | wales | yemen | zambia | zimbabwe | africa | asia | europe | north america | south america |
  latin america | antarctica | oceania | middle east | scandinavia | siberia | california | texas | florida |
  new york | washington | massachusetts | illinois | ohio | michigan | georgia | virginia | oregon | colorado |
  arizona | nevada | alaska | hawaii | bavaria | ontario | quebec | british columbia | catalonia | tokyo | delhi |
  new delhi | shanghai | beijing | mumbai | osaka | cairo | dhaka | karachi | istanbul | moscow | lagos | manila |
  jakarta | seoul | london | paris | berlin | madrid | rome | vienna | amsterdam | brussels | lisbon | dublin |
  edinburgh | prague | warsaw | budapest | athens | stockholm | oslo | copenhagen | helsinki | zurich | geneva |
  munich | hamburg | frankfurt | milan | barcelona | lyon | marseille | kyiv | kiev | toronto | montreal |
  vancouver | chicago | los angeles | san francisco | boston | seattle | houston | dallas | miami | atlanta |
  philadelphia | detroit | mexico city | sao paulo | rio de janeiro | buenos aires | lima | bogota | santiago |
  sydney | melbourne | auckland | singapore | hong kong | bangkok | hanoi | dubai | riyadh | tehran | baghdad |
  jerusalem | tel aviv | nairobi | johannesburg | cape town | silicon valley
`);
