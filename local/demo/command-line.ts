/**
 * Splits a command line given as one string (`--multilang "python3 app.py"`) into the
 * executable and its arguments, the way a POSIX shell would for words and quotes, and
 * nothing more: no variables, globs or pipes, because the child runs without a shell.
 */
export class CommandLineError extends Error {
  override readonly name = 'CommandLineError';
}

export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && (text[index + 1] === '"' || text[index + 1] === '\\')) word += text[++index];
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (char === '\\' && index + 1 < text.length) {
      word += text[++index];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote) throw new CommandLineError(`unbalanced ${quote} in command ${JSON.stringify(text)}`);
  if (inWord) words.push(word);
  if (words.length === 0) throw new CommandLineError('the command is empty');
  return words;
}
