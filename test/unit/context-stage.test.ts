import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG_PATH, FileContextProvider } from '../../src/context/index.js';
import { mergeWebhook } from '../../src/dedupe/merge.js';
import { createContextStage } from '../../src/deliver/context-stage.js';
import { fixture } from '../support/fixtures.js';

describe('context stage reload (SIGHUP)', () => {
  it('keeps the catalog in use when the new file is bad, naming the bad key', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'catalog-')), 'catalog.yaml');
    copyFileSync(DEFAULT_CATALOG_PATH, path);
    const unavailable: string[] = [];
    const stage = createContextStage({
      catalogPath: path,
      provider: FileContextProvider.fromFile(),
      deadlineMs: 500,
      onUnavailable: (r) => unavailable.push(r),
    });
    const snapshot = mergeWebhook(undefined, fixture('firing-postgresql-down'), Date.now()).snapshot;
    const before = await stage.describe(snapshot, Date.now());
    expect(before.view.lines.join('\n')).toContain('dispatch order intake');

    writeFileSync(path, 'services: [not, a, map]\n');
    expect(() => stage.reload()).toThrow(new RegExp(`${path}: services`));
    const during = await stage.describe(snapshot, Date.now());
    expect(during.view).toEqual(before.view);
    expect(unavailable).toEqual([]);
  });
});
