// Strict JSON, read as the service's serde_json reads it: valid UTF-8 only, no
// duplicate keys, no lone surrogates in escapes, nothing after the value but
// whitespace, at most 128 levels of nesting. JSON.parse keeps the last of two
// duplicate keys and takes lone surrogates, so a token that the service
// refuses could pass it (SECURITY.md §9 C10, D11, D12).

/** A JSON number as written: callers decide what they accept (JWT times are integers). */
export class JsonNumber {
  constructor(readonly raw: string) {}

  /** An integer literal: no fraction, no exponent. */
  get isInteger(): boolean {
    return /^-?(0|[1-9][0-9]*)$/.test(this.raw);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Thrown for anything serde_json would refuse to read. */
export class JsonError extends Error {}

const MAX_DEPTH = 128;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses `bytes` (UTF-8) or a string into a value; throws `JsonError`. */
export function parseStrict(input: Uint8Array | string): JsonValue {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = utf8.decode(input);
    } catch {
      throw new JsonError('not valid UTF-8');
    }
  }
  const parser = new Parser(text);
  parser.skipWhitespace();
  const value = parser.value(0);
  parser.skipWhitespace();
  if (parser.pos !== text.length) throw new JsonError('trailing characters');
  return value;
}

/** Whether a value is a JSON object (not an array, not null). */
export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  skipWhitespace(): void {
    const s = this.s;
    let c = s.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++this.pos);
  }

  value(depth: number): JsonValue {
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case 0x7b /* { */:
        return this.object(depth + 1);
      case 0x5b /* [ */:
        return this.array(depth + 1);
      case 0x22 /* " */:
        return this.string();
      case 0x74 /* t */:
        return this.literal('true', true);
      case 0x66 /* f */:
        return this.literal('false', false);
      case 0x6e /* n */:
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        throw new JsonError(Number.isNaN(c) ? 'unexpected end' : 'unexpected character');
    }
  }

  private literal<T>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.pos)) throw new JsonError('unexpected character');
    this.pos += word.length;
    return value;
  }

  private number(): JsonNumber {
    const match = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    match.lastIndex = this.pos;
    const found = match.exec(this.s);
    if (!found || found[0] === '-' || found[0].length === 0) throw new JsonError('invalid number');
    this.pos += found[0].length;
    // `01`, `1.`, `1e`: the rest of the literal would follow the match.
    const next = this.s.charCodeAt(this.pos);
    if ((next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45) {
      throw new JsonError('invalid number');
    }
    return new JsonNumber(found[0]);
  }

  private string(): string {
    const s = this.s;
    let pos = this.pos + 1;
    let out = '';
    let start = pos;
    for (;;) {
      const c = s.charCodeAt(pos);
      if (Number.isNaN(c)) throw new JsonError('unterminated string');
      if (c === 0x22) {
        out += s.slice(start, pos);
        this.pos = pos + 1;
        return out;
      }
      if (c < 0x20) throw new JsonError('control character in string');
      if (c === 0x5c /* \ */) {
        out += s.slice(start, pos);
        const e = s.charCodeAt(pos + 1);
        pos += 2;
        switch (e) {
          case 0x22: out += '"'; break;
          case 0x5c: out += '\\'; break;
          case 0x2f: out += '/'; break;
          case 0x62: out += '\b'; break;
          case 0x66: out += '\f'; break;
          case 0x6e: out += '\n'; break;
          case 0x72: out += '\r'; break;
          case 0x74: out += '\t'; break;
          case 0x75: {
            const unit = this.hex4(pos);
            pos += 4;
            if (unit >= 0xdc00 && unit <= 0xdfff) throw new JsonError('lone surrogate');
            if (unit >= 0xd800 && unit <= 0xdbff) {
              if (s.charCodeAt(pos) !== 0x5c || s.charCodeAt(pos + 1) !== 0x75) {
                throw new JsonError('lone surrogate');
              }
              const low = this.hex4(pos + 2);
              if (low < 0xdc00 || low > 0xdfff) throw new JsonError('lone surrogate');
              pos += 6;
              out += String.fromCharCode(unit, low);
            } else {
              out += String.fromCharCode(unit);
            }
            break;
          }
          default:
            throw new JsonError('invalid escape');
        }
        start = pos;
        continue;
      }
      pos++;
    }
  }

  private hex4(at: number): number {
    const digits = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) throw new JsonError('invalid \\u escape');
    return parseInt(digits, 16);
  }

  private array(depth: number): JsonValue[] {
    if (depth > MAX_DEPTH) throw new JsonError('nested too deeply');
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.value(depth));
      this.skipWhitespace();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) throw new JsonError('expected , or ]');
    }
  }

  private object(depth: number): JsonObject {
    if (depth > MAX_DEPTH) throw new JsonError('nested too deeply');
    this.pos++;
    const out: JsonObject = Object.create(null) as JsonObject;
    this.skipWhitespace();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.s.charCodeAt(this.pos) !== 0x22) throw new JsonError('expected a key');
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new JsonError(`duplicate key`);
      this.skipWhitespace();
      if (this.s.charCodeAt(this.pos++) !== 0x3a) throw new JsonError('expected :');
      this.skipWhitespace();
      out[key] = this.value(depth);
      this.skipWhitespace();
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x7d) return out;
      if (c !== 0x2c) throw new JsonError('expected , or }');
    }
  }
}
