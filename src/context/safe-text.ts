/**
 * Label and annotation values are arbitrary JSON strings, and JSON can carry a lone UTF-16 surrogate
 * ("\ud800"). `encodeURIComponent` throws on one, and a renderer that throws turns one bad character into a
 * dead letter. Everything that builds a message or a link from alert data goes through these first.
 */

// A high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Control characters other than tab, newline and carriage return: invisible at best, invalid in XML/HTML.
// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: see CONTROL.
const HAS_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/** String#isWellFormed and #toWellFormed (ES2024, in Node 20) where present; the regex otherwise. */
type Es2024String = string & { isWellFormed?: () => boolean; toWellFormed?: () => string };

function withoutLoneSurrogates(text: string): string {
  const s = text as Es2024String;
  if (s.isWellFormed) return s.isWellFormed() ? text : s.toWellFormed!();
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** The text with lone surrogates and control characters replaced by U+FFFD (String#toWellFormed and more). */
export function toWellFormed(text: string): string {
  const wellFormed = withoutLoneSurrogates(text);
  return HAS_CONTROL.test(wellFormed) ? wellFormed.replace(CONTROL, '\uFFFD') : wellFormed;
}

/** encodeURIComponent that cannot throw. */
export function encodeComponent(text: string): string {
  return encodeURIComponent(withoutLoneSurrogates(text));
}
