/**
 * The one error vocabulary for start-up (DESIGN.md §Style): every configuration problem is a ConfigError
 * whose message names the file (or "environment"), the key path and the reason, one `file: key.path: reason`
 * line per problem. main.ts and check-config print the message and exit 2, without a stack trace.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  /** One problem: `file: key.path: reason`. */
  static at(file: string, keyPath: string, reason: string): ConfigError {
    return new ConfigError(`${file}: ${keyPath}: ${reason}`);
  }
}
