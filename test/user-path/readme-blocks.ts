import { readFileSync } from 'node:fs';

/**
 * The fenced blocks of the README marked `<!-- user-path: <name> -->` on the line
 * before them: the user-path test runs and writes exactly what the README shows.
 */
export function readmeBlocks(readmeFile: string): Map<string, string> {
  const blocks = new Map<string, string>();
  const pattern = /<!-- user-path: (\S+) -->\n```[a-z]*\n([\s\S]*?)\n```/g;
  const text = readFileSync(readmeFile, 'utf8');
  for (const match of text.matchAll(pattern)) blocks.set(match[1], `${match[2]}\n`);
  return blocks;
}

/** The commands of a shell block: one per line, comments and blank lines dropped. */
export function commandsOf(block: string): string[] {
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
