/** Sample texts for the analysis stages. */

export const QUEUE_ARTICLE = `Redis Streams make a reliable task queue for AI backends. Dr. Jane Smith, who leads the platform team at Acme Corp., moved the company's document pipeline to Redis Streams in London on 12 March 2024.

A task queue on Redis Streams survives worker crashes because pending tasks stay in the stream. Consumer groups spread the tasks of the queue across workers, and each worker acknowledges a task once it is done.

The weather was pleasant on the day the team met. Lunch was served at noon.

The team is delighted with the results: the new queue is fast, dependable and wonderfully simple.`;

/** QUEUE_ARTICLE with a few words changed. */
export const QUEUE_ARTICLE_REWORDED = `Redis Streams make a dependable task queue for AI backends. Dr. Jane Smith, who runs the platform team at Acme Corp., moved the firm's document pipeline to Redis Streams in London in March 2024.

A task queue built on Redis Streams survives worker crashes, because pending tasks remain in the stream. Consumer groups spread the queue's tasks across workers, and every worker acknowledges a task when it is done.

The weather was pleasant on the day the team met. Lunch was served at noon.

The team is happy with the results: the new queue is fast, reliable and wonderfully simple.`;

export const CAKE_RECIPE = `Preheat the oven to 200 degrees. Whisk the eggs with the sugar and the butter until creamy, then fold in the flour and a pinch of salt. Pour the batter into a buttered tin. Bake the cake for forty minutes and let it cool before slicing it and dusting it with icing sugar.`;

export const FOOTBALL_REPORT = `The striker scored twice in the second half as the home team won the championship final. Thousands of fans celebrated in the stadium while the coach praised the defence, the midfield and the goalkeeper, who saved a penalty in the last minute.`;

export const FRENCH_TEXT = `Les flux Redis constituent une file de tâches fiable pour les services d'intelligence artificielle. Une file de tâches survit aux pannes des travailleurs, car les tâches en attente restent dans le flux. Les groupes de consommateurs répartissent les tâches entre les travailleurs.`;

export const GERMAN_TEXT = `Der Hund schläft im Garten, während die Kinder in der Schule sind. Am Abend kochen die Eltern gemeinsam eine Suppe, und danach liest die Familie zusammen ein Buch.`;

export const GLOWING_REVIEW = 'I love this product. It is wonderful, works great and the support team was incredibly helpful!';
export const SCATHING_REVIEW = 'This is the worst service I have ever used. It is terrible, slow and broken, and I hate it.';
