/** Long texts in pieces for the NLP models that read a whole text in one synchronous call. */

/** The text cut at paragraph breaks (or, inside a huge paragraph, at a space) into pieces of at most `max` characters. */
export function chunksOf(text: string, max: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (let paragraph of text.split(/\n\s*\n/)) {
    while (paragraph.length > max) {
      const cut = paragraph.lastIndexOf(' ', max);
      const at = cut > 0 ? cut : max;
      if (current) chunks.push(current);
      current = '';
      chunks.push(paragraph.slice(0, at));
      paragraph = paragraph.slice(at).trimStart();
    }
    if (current && current.length + paragraph.length + 2 > max) {
      chunks.push(current);
      current = '';
    }
    current = current ? `${current}\n\n${paragraph}` : paragraph;
  }
  if (current.trim()) chunks.push(current);
  return chunks;
}
