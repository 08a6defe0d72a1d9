import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../config/errors.js';

export interface ConfigIssue {
  /** Dotted path of the offending key (`escalation.0.when.cargo_class_in`), or a YAML position. */
  path: string;
  message: string;
}

/**
 * A config file that cannot be used. The message has one `file: path.to.key: reason` line per
 * problem so an operator can fix all of them in one pass instead of one restart per typo.
 */
export class ConfigFileError extends ConfigError {
  override name = 'ConfigFileError';

  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(issues.map((issue) => `${file}: ${issue.path}: ${issue.message}`).join('\n'));
  }
}

/** Reads a YAML file and validates it; throws ConfigFileError naming the file and every bad key. */
export function loadYamlConfig<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    throw new ConfigFileError(file, [{ path: '(file)', message: describeError(error) }]);
  }
  return parseYamlConfig(file, text, schema);
}

/** Same as loadYamlConfig for text already in memory; `file` only labels the errors. */
export function parseYamlConfig<S extends z.ZodType>(file: string, text: string, schema: S): z.output<S> {
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new ConfigFileError(
      file,
      document.errors.map((error) => {
        const position = error.linePos?.[0];
        return {
          path: position ? `line ${position.line} column ${position.col}` : '(yaml)',
          // The YAML library appends a source excerpt on further lines; the first line is the reason.
          message: firstLine(error.message),
        };
      }),
    );
  }
  const result = schema.safeParse(document.toJS());
  if (!result.success) {
    throw new ConfigFileError(file, result.error.issues.flatMap(toConfigIssues));
  }
  return result.data;
}

function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const base = issue.path.map(String);
  // zod reports an unknown key at its parent; name the key itself, since that is what to delete.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatPath([...base, key]), message: 'unknown key' }));
  }
  if (issue.code === 'invalid_key') {
    const detail = issue.issues.map((inner) => inner.message).join('; ');
    return [{ path: formatPath(base), message: `invalid key: ${detail}` }];
  }
  return [{ path: formatPath(base), message: issue.message }];
}

function formatPath(segments: readonly string[]): string {
  return segments.length === 0 ? '(root)' : segments.join('.');
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
