/**
 * One name per secret: the file under deploy/monitoring/secrets/, the compose secret's key, and the path
 * /run/secrets/<name> that Alertmanager reads. The READMEs tell operators to create those files and show
 * those paths, so they must use the same names.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ComposeFile, monitoringDir, readYaml, repoRoot } from './support.js';

const compose = readYaml<ComposeFile>(join(monitoringDir, 'docker-compose.monitoring.yml'));
const secretNames = Object.keys(compose.secrets);

describe('secret names', () => {
  it('use the file name as the compose key, so /run/secrets/<name> is the file the operator created', () => {
    expect(secretNames.length).toBeGreaterThan(0);
    for (const [name, { file }] of Object.entries(compose.secrets)) expect(basename(file)).toBe(name);
  });

  it('are the ones the READMEs and the Alertmanager config name', () => {
    const texts = {
      'README.md': readFileSync(join(repoRoot, 'README.md'), 'utf8'),
      'deploy/monitoring/README.md': readFileSync(join(monitoringDir, 'README.md'), 'utf8'),
      'deploy/monitoring/.env.example': readFileSync(join(monitoringDir, '.env.example'), 'utf8'),
      'alertmanager.yml': readFileSync(join(monitoringDir, 'alertmanager/alertmanager.yml'), 'utf8'),
    };
    for (const [file, text] of Object.entries(texts)) {
      const named = [...text.matchAll(/(?:\/run\/secrets\/|\bsecrets\/)([\w-]+)/g)].map((m) => m[1]!);
      for (const name of named) {
        expect(secretNames, `${file} names the secret "${name}"`).toContain(name);
      }
    }
  });
});
