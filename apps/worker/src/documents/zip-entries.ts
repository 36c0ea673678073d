/**
 * The file names in a ZIP archive, read from its central directory (enough to tell a DOCX from
 * any other ZIP without unpacking it). Undefined when the bytes are not a readable ZIP.
 */

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
// The end record is 22 bytes plus a comment of up to 65,535.
const END_RECORD_SEARCH = 22 + 0xffff;

export function zipEntryNames(bytes: Buffer): string[] | undefined {
  const end = findEndRecord(bytes);
  if (end === undefined) return undefined;
  const entries = bytes.readUInt16LE(end + 10);
  let offset = bytes.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < entries; i++) {
    if (offset + 46 > bytes.length || bytes.readUInt32LE(offset) !== CENTRAL_DIRECTORY_ENTRY) return undefined;
    const nameLength = bytes.readUInt16LE(offset + 28);
    const extraLength = bytes.readUInt16LE(offset + 30);
    const commentLength = bytes.readUInt16LE(offset + 32);
    names.push(bytes.toString('utf8', offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

function findEndRecord(bytes: Buffer): number | undefined {
  const lowest = Math.max(0, bytes.length - END_RECORD_SEARCH);
  for (let at = bytes.length - 22; at >= lowest; at--) {
    if (bytes.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) return at;
  }
  return undefined;
}
