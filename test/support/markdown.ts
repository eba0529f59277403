/** Code blocks of a Markdown file, for the tests that run the README and docs examples. */
export interface Block {
  lang: 'ts' | 'sh';
  code: string;
  line: number;
}

/** Every ```ts / ```sh (bash, shell) block with the line it starts on. */
export function extractBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const re = /^```(ts|typescript|sh|bash|shell)\s*\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) {
    const lang = m[1] === 'ts' || m[1] === 'typescript' ? 'ts' : 'sh';
    blocks.push({ lang, code: m[2]!, line: markdown.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

/** The `npx wal …` command lines of a sh block (comments stripped), split into arguments. */
export function walCommandLines(block: Block): string[][] {
  const lines: string[][] = [];
  for (const raw of block.code.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line.startsWith('npx wal ')) lines.push(line.slice('npx wal '.length).split(/\s+/));
  }
  return lines;
}
