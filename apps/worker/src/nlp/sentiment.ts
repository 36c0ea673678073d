/**
 * Sentiment: wink's English model scores each sentence from -1 (negative) to 1 (positive),
 * handling negation ("not good") and intensifiers; a text's score is the mean over its sentences.
 */
export interface Sentiment {
  score: number;
  label: 'positive' | 'neutral' | 'negative';
}

// Scores this close to 0 are a few mildly coloured words, not an opinion.
const NEUTRAL_BAND = 0.05;

export function sentimentOf(score: number): Sentiment {
  const rounded = Math.round(Math.max(-1, Math.min(1, score)) * 1000) / 1000;
  const label = rounded >= NEUTRAL_BAND ? 'positive' : rounded <= -NEUTRAL_BAND ? 'negative' : 'neutral';
  return { score: rounded, label };
}
