/**
 * Fails when two folders under src/ import each other, directly or through others (DESIGN.md §Target
 * layout: "no import cycle between folders"). A cycle between folders means neither can change alone.
 *
 *   npx tsx scripts/check-folder-cycles.ts [srcDir]
 *
 * Files directly in src/ (main.ts) form the folder ".", which may import anything and is imported by none.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The top-level folder of a file under src ("." for files directly in src). */
function folderOf(srcDir: string, file: string): string {
  const parts = relative(srcDir, file).split(sep);
  return parts.length > 1 ? (parts[0] as string) : '.';
}

/** Folder → folders it imports, with one example import per edge for the report. */
export function folderGraph(srcDir: string): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(srcDir)) {
    const from = folderOf(srcDir, file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), (match[1] ?? match[2]) as string);
      if (!target.startsWith(srcDir + sep)) continue;
      const to = folderOf(srcDir, target);
      if (to !== from && !edges.has(to)) edges.set(to, `${relative(srcDir, file)} → ${match[1] ?? match[2]}`);
    }
  }
  return graph;
}

/** Every elementary cycle's folders, found by depth-first search from each folder (the graph is small). */
export function folderCycles(graph: Map<string, Map<string, string>>): string[][] {
  const seen = new Set<string>();
  const cycles: string[][] = [];
  const visit = (start: string, node: string, path: string[]) => {
    for (const next of graph.get(node)?.keys() ?? []) {
      if (next === start) {
        const key = [...path].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...path, start]);
        }
      } else if (!path.includes(next) && next > start) {
        visit(start, next, [...path, next]);
      }
    }
  };
  for (const start of [...graph.keys()].sort()) visit(start, start, [start]);
  return cycles;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const srcDir = resolve(process.argv[2] ?? 'src');
  const graph = folderGraph(srcDir);
  const cycles = folderCycles(graph);
  for (const cycle of cycles) {
    console.error(`folder cycle: ${cycle.join(' → ')}`);
    for (let i = 0; i < cycle.length - 1; i++)
      console.error(`  ${graph.get(cycle[i] as string)?.get(cycle[i + 1] as string)}`);
  }
  console.log(`${cycles.length} folder cycle(s) among ${graph.size} folders under ${relative('.', srcDir)}/`);
  process.exit(cycles.length ? 1 : 0);
}
