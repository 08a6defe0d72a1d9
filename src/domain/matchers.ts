/**
 * Alertmanager's label matchers (`name="value"`, `!=`, `=~`, `!~`). Regexes are fully anchored, as in
 * Alertmanager, so a route written for Alertmanager means the same thing here.
 */
export type MatchOperator = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  op: MatchOperator;
  value: string;
  text: string;
}

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))\s*$/;

export function parseMatcher(text: string): Matcher {
  const found = MATCHER.exec(text);
  if (!found)
    throw new Error(`bad matcher ${JSON.stringify(text)}: expected name="value" with =, !=, =~ or !~`);
  const [, name, op, quoted, bare] = found;
  const value = quoted !== undefined ? (JSON.parse(`"${quoted}"`) as string) : (bare ?? '');
  if (op === '=~' || op === '!~') {
    try {
      new RegExp(`^(?:${value})$`);
    } catch (error) {
      throw new Error(`bad regex in matcher ${JSON.stringify(text)}: ${(error as Error).message}`);
    }
  }
  return { name: name as string, op: op as MatchOperator, value, text: text.trim() };
}

const regexCache = new Map<string, RegExp>();

function anchored(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`);
    regexCache.set(pattern, re);
  }
  return re;
}

/** A missing label matches as the empty string, as in Alertmanager. */
export function matches(matcher: Matcher, labels: Readonly<Record<string, string>>): boolean {
  const actual = labels[matcher.name] ?? '';
  switch (matcher.op) {
    case '=':
      return actual === matcher.value;
    case '!=':
      return actual !== matcher.value;
    case '=~':
      return anchored(matcher.value).test(actual);
    case '!~':
      return !anchored(matcher.value).test(actual);
  }
}

export function matchesAll(matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  return matchers.every((m) => matches(m, labels));
}

/** One equality matcher in Alertmanager's syntax: the value in double quotes, `\` and `"` escaped. */
export function matcherText(name: string, value: string): string {
  return `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A set of equality matchers as Alertmanager's UI filter reads them: `{a="1",b="2"}`. */
export function matcherSetText(matchers: Iterable<readonly [string, string]>): string {
  return `{${[...matchers].map(([name, value]) => matcherText(name, value)).join(',')}}`;
}
