// Octopus Deploy's variable substitution ("Octostache" semantics), as pure functions over a
// dictionary of variables: a template is tokenized into text and #{...} tags, parsed into a tree
// (expressions, if/unless/else, each), then evaluated.
//
// Implemented: #{Name} (case-insensitive names with spaces, dots and [indexers]); nested
// expressions in names, indexers and filter arguments (#{A[#{B}].C}, #{Greeting#{Suffix}});
// ##{...} escapes to a literal #{...}; values containing #{...} are evaluated recursively, with a
// cycle and depth guard that leaves the looping reference as written; filters chained with |,
// arguments quoted or bare; #{if X}, #{if X == "v"}, #{if X != Y}, #{unless X}, #{else}, nested;
// #{each x in List} over a comma-separated value (items trimmed, empty ones skipped) or over the
// distinct indexer keys of variables named List[Key]... (#{x} is then List[Key]'s value or the key,
// #{x.Prop} is List[Key].Prop), with Octopus.Template.Each.Index/First/Last inside.
// An unknown variable or filter, a filter refusing its input, and any malformed tag (unclosed
// block, stray #{/each} or #{else}) are left exactly as written; nothing here throws.
//
// Filters (names in any case): ToLower, ToUpper, Trim [start|end], Truncate n [suffix],
// Substring [start] length, Replace "find" ["with"] (plain text, not a regular expression),
// HtmlEscape, XmlEscape, JsonEscape, UriEscape, UriDataEscape, ToBase64/Base64Encode and
// FromBase64/Base64Decode [utf8|unicode], NowDate/NowDateUtc [format] (input ignored; ISO 8601
// without a format), Format [type] format (.NET standard C D F G N P or custom 0 # , . number
// formats, en-US; .NET custom or standard date formats of ISO 8601 dates), Indent [n|a/b|text].
//
// Left out: Markdown/MarkdownToHtml, Null, UriPart, Version*, Match/StartsWith/EndsWith/Contains,
// Append/Prepend, the hashes (Md5, Sha*), AddHours/AddDays, the YAML/properties escapes, JSON
// values as collections or objects, #{calc ...}; unlike Octopus, a recursive definition is not
// an error.

type Node =
  | { t: 'text'; text: string }
  | { t: 'expr'; raw: string; body: string }
  | { t: 'cond'; raw: string; negate: boolean; test: string; then: Node[]; else: Node[] }
  | { t: 'each'; raw: string; item: string; collection: string; body: Node[] };

type Token = { tag: false; text: string } | { tag: true; body: string; start: number; end: number };

/** The first index from `from` that is outside "quotes" (when `quotes`) and nested #{...} where `hit` holds, or -1. */
function scan(s: string, from: number, quotes: boolean, hit: (i: number) => boolean): number {
  let depth = 0;
  let quoted = false;
  for (let i = from; i < s.length; i++) {
    const c = s.charAt(i);
    if (quotes && c === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (c === '#' && s.charAt(i + 1) === '{') { depth++; i++; }
    else if (c === '}' && depth > 0) depth--;
    else if (depth === 0 && hit(i)) return i;
  }
  return -1;
}

/** `s` split at the separators that are outside quotes and nested expressions. */
function splitTop(s: string, isSeparator: (c: string) => boolean): string[] {
  const parts: string[] = [];
  let start = 0;
  const next = (from: number) => scan(s, from, true, (j) => isSeparator(s.charAt(j)));
  for (let i = next(0); i >= 0; i = next(i + 1)) { parts.push(s.slice(start, i)); start = i + 1; }
  parts.push(s.slice(start));
  return parts;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let text = '';
  let i = 0;
  while (i < src.length) {
    const p = src.indexOf('#{', i);
    if (p < 0) { text += src.slice(i); break; }
    if (p > i && src.charAt(p - 1) === '#') { text += src.slice(i, p - 1) + '#{'; i = p + 2; continue; } // ##{ escapes
    const isClose = (j: number) => src.charAt(j) === '}';
    let close = scan(src, p + 2, true, isClose);
    if (close < 0) close = scan(src, p + 2, false, isClose); // an unbalanced quote is text after all
    if (close < 0) { text += src.slice(i, p + 2); i = p + 2; continue; } // never closed: literal
    text += src.slice(i, p);
    if (text) out.push({ tag: false, text });
    text = '';
    out.push({ tag: true, body: src.slice(p + 2, close), start: p, end: close + 1 });
    i = close + 1;
  }
  if (text) out.push({ tag: false, text });
  return out;
}

interface Open { kind: string; start: number; raw: string; arg: string; item: string; then: Node[]; else: Node[]; elseRaw?: string }

function parse(src: string): Node[] {
  const root: Node[] = [];
  const stack: Open[] = [];
  const target = (): Node[] => {
    const top = stack.at(-1);
    return !top ? root : top.elseRaw !== undefined ? top.else : top.then;
  };
  // A block never closed is text: its opening tag as written, then what it held, evaluated.
  const flatten = (o: Open): void => {
    target().push({ t: 'text', text: o.raw }, ...o.then);
    if (o.elseRaw !== undefined) target().push({ t: 'text', text: o.elseRaw }, ...o.else);
  };
  for (const tok of tokenize(src)) {
    if (!tok.tag) { target().push({ t: 'text', text: tok.text }); continue; }
    const raw = src.slice(tok.start, tok.end);
    const body = tok.body.trim();
    const block = /^(if|unless)\s+([\s\S]+)$/.exec(body);
    const each = /^each\s+(\S+)\s+in\s+([\s\S]+)$/.exec(body);
    const close = /^\/(if|unless|each)$/.exec(body);
    if (block) stack.push({ kind: block[1] ?? '', start: tok.start, raw, arg: block[2] ?? '', item: '', then: [], else: [] });
    else if (each) stack.push({ kind: 'each', start: tok.start, raw, arg: each[2] ?? '', item: each[1] ?? '', then: [], else: [] });
    else if (body === 'else') {
      const top = stack.at(-1);
      if (top && top.kind !== 'each' && top.elseRaw === undefined) top.elseRaw = raw;
      else target().push({ t: 'text', text: raw });
    } else if (close) {
      let j = stack.length - 1;
      while (j >= 0 && stack[j]?.kind !== close[1]) j--;
      if (j < 0) { target().push({ t: 'text', text: raw }); continue; } // stray closing tag
      while (stack.length - 1 > j) { const inner = stack.pop(); if (inner) flatten(inner); }
      const o = stack.pop();
      if (!o) continue;
      const whole = src.slice(o.start, tok.end);
      target().push(o.kind === 'each'
        ? { t: 'each', raw: whole, item: o.item, collection: o.arg, body: o.then }
        : { t: 'cond', raw: whole, negate: o.kind === 'unless', test: o.arg, then: o.then, else: o.else });
    } else target().push({ t: 'expr', raw, body: tok.body });
  }
  for (let o = stack.pop(); o; o = stack.pop()) flatten(o);
  return root;
}

const parsed = new Map<string, Node[]>();
function parseCached(src: string): Node[] {
  if (parsed.size >= 2000) parsed.clear();
  const nodes = parsed.get(src) ?? parse(src);
  parsed.set(src, nodes);
  return nodes;
}

// ---- filters ---------------------------------------------------------------------------------

type Filter = (value: string | undefined, args: string[]) => string | undefined;
/** A filter of a defined value: an undefined one (unknown variable) stays undefined. */
const onText = (f: (v: string, args: string[]) => string | undefined): Filter => (v, a) => (v === undefined ? undefined : f(v, a));
const noArgs = (f: (v: string) => string | undefined): Filter => onText((v, a) => (a.length ? undefined : f(v)));
const escaper = (map: Record<string, string>): Filter => noArgs((v) => v.replace(/[\s\S]/g, (c) => (Object.hasOwn(map, c) ? map[c] : undefined) ?? c));
const int = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s) : undefined);
const encodingOf = (a: string[]): BufferEncoding | undefined => {
  const e = (a[0] ?? 'utf8').toLowerCase();
  return a.length > 1 ? undefined : e === 'utf8' || e === 'utf-8' ? 'utf8' : e === 'unicode' ? 'utf16le' : undefined;
};
const attempt = (f: () => string): string | undefined => { try { return f(); } catch { return undefined; } };

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const STANDARD_DATE: Record<string, string> = {
  d: 'MM/dd/yyyy', D: 'dddd, dd MMMM yyyy', f: 'dddd, dd MMMM yyyy HH:mm', F: 'dddd, dd MMMM yyyy HH:mm:ss',
  g: 'MM/dd/yyyy HH:mm', G: 'MM/dd/yyyy HH:mm:ss', m: 'MMMM dd', M: 'MMMM dd', t: 'HH:mm', T: 'HH:mm:ss', y: 'yyyy MMMM', Y: 'yyyy MMMM',
  o: 'yyyy-MM-ddTHH:mm:ss.fffffffK', O: 'yyyy-MM-ddTHH:mm:ss.fffffffK', s: 'yyyy-MM-ddTHH:mm:ss', u: "yyyy-MM-dd HH:mm:ss'Z'",
};

/** A date and time as its parts; `kind` says whether it is UTC, at an explicit offset (minutes), or naive. */
interface Moment { y: number; M: number; d: number; H: number; m: number; s: number; ms: number; kind: 'utc' | 'offset' | 'naive'; offset: number }

function now(utc: boolean): Moment {
  const t = new Date();
  return utc
    ? { y: t.getUTCFullYear(), M: t.getUTCMonth() + 1, d: t.getUTCDate(), H: t.getUTCHours(), m: t.getUTCMinutes(), s: t.getUTCSeconds(), ms: t.getUTCMilliseconds(), kind: 'utc', offset: 0 }
    : { y: t.getFullYear(), M: t.getMonth() + 1, d: t.getDate(), H: t.getHours(), m: t.getMinutes(), s: t.getSeconds(), ms: t.getMilliseconds(), kind: 'naive', offset: -t.getTimezoneOffset() };
}

function parseMoment(text: string): Moment | undefined {
  const r = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(text.trim());
  if (!r) return undefined;
  const [y, M, d, H, m, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(r[i] ?? 0)) as [number, number, number, number, number, number];
  if (M < 1 || M > 12 || d < 1 || d > new Date(Date.UTC(y, M, 0)).getUTCDate() || H > 23 || m > 59 || s > 59) return undefined;
  const zone = (r[8] ?? '').replace(':', '');
  const offset = zone && zone.toUpperCase() !== 'Z' ? (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3) || 0)) : 0;
  const kind = !zone ? 'naive' : zone.toUpperCase() === 'Z' ? 'utc' : 'offset';
  return { y, M, d, H, m, s, ms: Number((r[7] ?? '').padEnd(3, '0').slice(0, 3)), kind, offset };
}

/** One run of a .NET custom date format letter, or undefined when the letter is not one (kept literally). */
function datePart(t: Moment, c: string, n: number): string | undefined {
  const zone = (width: number) => `${t.offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(t.offset) / 60), width)}`;
  const fraction = pad(t.ms, 3).padEnd(7, '0').slice(0, Math.min(n, 7));
  switch (c) {
    case 'y': return n === 1 ? String(t.y % 100) : n === 2 ? pad(t.y % 100, 2) : pad(t.y, n);
    case 'M': return n <= 2 ? pad(t.M, n) : (MONTHS[t.M - 1] ?? '').slice(0, n === 3 ? 3 : undefined);
    case 'd': return n <= 2 ? pad(t.d, n) : (DAYS[new Date(Date.UTC(t.y, t.M - 1, t.d)).getUTCDay()] ?? '').slice(0, n === 3 ? 3 : undefined);
    case 'H': return pad(t.H, Math.min(n, 2));
    case 'h': return pad(t.H % 12 || 12, Math.min(n, 2));
    case 'm': return pad(t.m, Math.min(n, 2));
    case 's': return pad(t.s, Math.min(n, 2));
    case 'f': return fraction;
    case 'F': return fraction.replace(/0+$/, '');
    case 't': return (t.H < 12 ? 'AM' : 'PM').slice(0, Math.min(n, 2));
    case 'z': return n === 1 ? `${t.offset < 0 ? '-' : '+'}${Math.floor(Math.abs(t.offset) / 60)}` : n === 2 ? zone(2) : `${zone(2)}:${pad(Math.abs(t.offset) % 60, 2)}`;
    case 'K': return t.kind === 'naive' ? '' : t.kind === 'utc' ? 'Z' : `${zone(2)}:${pad(Math.abs(t.offset) % 60, 2)}`;
    default: return undefined;
  }
}

function formatMoment(t: Moment, format: string): string | undefined {
  const f = format.length === 1 ? STANDARD_DATE[format] : format;
  if (f === undefined) return undefined;
  let out = '';
  for (let i = 0; i < f.length;) {
    const c = f.charAt(i);
    if (c === "'" || c === '"') {
      const j = f.indexOf(c, i + 1);
      out += f.slice(i + 1, j < 0 ? f.length : j);
      i = j < 0 ? f.length : j + 1;
    } else if (c === '\\') { out += f.charAt(i + 1); i += 2; } else {
      let n = 1;
      while (f.charAt(i + n) === c) n++;
      out += datePart(t, c, n) ?? f.slice(i, i + n);
      i += n;
    }
  }
  return out;
}

const parseNumber = (s: string): number | undefined => (/^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/.test(s) ? Number(s) : undefined);
const fixed = (x: number, digits: number, useGrouping: boolean, minimumIntegerDigits = 1) =>
  new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping, minimumIntegerDigits }).format(x);

/** A number in a .NET standard (C, D, F, G, N, P with a precision) or custom (0, #, ",", ".") format, en-US. */
function formatNumber(n: number, format: string): string | undefined {
  const std = /^([CDFGNP])(\d{0,2})$/i.exec(format);
  if (std) {
    const p = std[2] ? Number(std[2]) : undefined;
    const sign = n < 0 ? '-' : '';
    switch ((std[1] ?? '').toUpperCase()) {
      case 'C': return `${sign}$${fixed(Math.abs(n), p ?? 2, true)}`;
      case 'D': return Number.isInteger(n) ? sign + pad(Math.abs(n), p ?? 1) : undefined;
      case 'F': return fixed(n, p ?? 2, false);
      case 'N': return fixed(n, p ?? 2, true);
      case 'P': return `${fixed(n * 100, p ?? 2, true)}%`;
      default: return String(n);
    }
  }
  const custom = /^([^0#.,]*)([0#,]*)(?:\.([0#]*))?([^0#.,]*)$/.exec(format);
  if (!custom || !/[0#]/.test(format)) return undefined;
  const [, prefix = '', whole = '', frac = '', suffix = ''] = custom;
  const x = /%/.test(prefix + suffix) ? n * 100 : n;
  const minInt = (whole.match(/0/g) ?? []).length;
  let digits = new Intl.NumberFormat('en-US', {
    minimumIntegerDigits: Math.max(minInt, 1), minimumFractionDigits: (/^0*/.exec(frac)?.[0] ?? '').length,
    maximumFractionDigits: frac.length, useGrouping: whole.includes(','),
  }).format(Math.abs(x));
  if (minInt === 0 && digits.startsWith('0')) digits = digits.slice(1);
  return `${x < 0 && /[1-9]/.test(digits) ? '-' : ''}${prefix}${digits}${suffix}`;
}

function format(v: string, a: string[]): string | undefined {
  const [type = '', f = ''] = a.length === 2 ? a : ['', a[0] ?? ''];
  if (a.length < 1 || a.length > 2) return undefined;
  const number = parseNumber(v);
  const moment = () => { const m = parseMoment(v); return m && formatMoment(m, f); };
  switch (type.toLowerCase()) {
    case '': return number !== undefined ? formatNumber(number, f) : moment();
    case 'int': case 'int32': return number !== undefined && Number.isInteger(number) ? formatNumber(number, f) : undefined;
    case 'double': case 'decimal': return number !== undefined ? formatNumber(number, f) : undefined;
    case 'date': case 'datetime': case 'datetimeoffset': return moment();
    default: return undefined;
  }
}

function indent(v: string, a: string[]): string | undefined {
  if (v === '') return '';
  let first = '    ';
  let rest = first;
  const sizes = /^(?:(\d{1,3})?(\/))?(\d{1,3})$/.exec(a[0] ?? '');
  if (a.length === 2) [first = '', rest = ''] = a;
  else if (a.length === 1 && sizes) { rest = ' '.repeat(Number(sizes[3])); first = !sizes[2] ? rest : ' '.repeat(Number(sizes[1] ?? 0)); }
  else if (a.length === 1) first = rest = a[0] ?? '';
  else if (a.length > 2) return undefined;
  return first + v.replace(/\n/g, `\n${rest}`);
}

const FILTERS = new Map<string, Filter>([
  ['tolower', noArgs((v) => v.toLowerCase())],
  ['toupper', noArgs((v) => v.toUpperCase())],
  ['trim', onText((v, a) => {
    const side = a.length === 1 ? (a[0] ?? '').toLowerCase() : a.length ? undefined : 'both';
    return side === 'both' ? v.trim() : side === 'start' ? v.trimStart() : side === 'end' ? v.trimEnd() : undefined;
  })],
  ['truncate', onText((v, a) => { const n = int(a[0]); return n === undefined || a.length > 2 ? undefined : n < v.length ? v.slice(0, n) + (a[1] ?? '...') : v; })],
  ['substring', onText((v, a) => {
    const [x, y] = a.map(int);
    if (x === undefined || a.length > 2 || (a.length === 2 && y === undefined)) return undefined;
    const [start, length] = a.length === 1 ? [0, x] : [x, y ?? 0];
    return start > v.length ? undefined : v.slice(start, start + length);
  })],
  ['replace', onText((v, [find, replacement = '', ...more]) => (find === undefined || more.length ? undefined : find === '' ? v : v.split(find).join(replacement)))],
  ['htmlescape', escaper({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '/': '&#x2F;' })],
  ['xmlescape', escaper({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })],
  ['jsonescape', escaper({ '"': '\\"', '\r': '\\r', '\t': '\\t', '\n': '\\n', '\\': '\\\\' })],
  ['uriescape', noArgs((v) => attempt(() => encodeURI(v).replace(/%5B/g, '[').replace(/%5D/g, ']')))],
  ['uridataescape', noArgs((v) => attempt(() => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)))],
  ['tobase64', onText((v, a) => { const e = encodingOf(a); return e && Buffer.from(v, e).toString('base64'); })],
  ['frombase64', onText((v, a) => {
    const e = encodingOf(a);
    const b = v.replace(/\s/g, '');
    return e && b.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(b) ? Buffer.from(b, 'base64').toString(e) : undefined;
  })],
  ['nowdate', (_v, a) => (a.length > 1 ? undefined : formatMoment(now(false), a[0] ?? 'O'))],
  ['nowdateutc', (_v, a) => (a.length > 1 ? undefined : formatMoment(now(true), a[0] ?? 'O'))],
  ['format', onText(format)],
  ['indent', onText(indent)],
]);
FILTERS.set('base64encode', FILTERS.get('tobase64') as Filter);
FILTERS.set('base64decode', FILTERS.get('frombase64') as Filter);

// ---- evaluation ------------------------------------------------------------------------------

const EACH_INDEX = 'octopus.template.each.index';
const EACH_FIRST = 'octopus.template.each.first';
const EACH_LAST = 'octopus.template.each.last';
const MAX_DEPTH = 64;

/** The locals of one iteration of an #{each}: `item` (lower case) names List[Key] when `prefix` is that. */
interface Frame { vars: Map<string, string>; item: string; prefix?: string }
/** Counts the expressions of one template left unresolved. */
interface Misses { n: number }

class Evaluator {
  private readonly resolving = new Set<string>();
  private readonly memo = new Map<string, string>();
  private cycles = 0;

  constructor(private readonly dict: VariableDictionary) {}

  template(src: string, frames: readonly Frame[] = [], misses?: Misses): string { return this.render(parseCached(src), frames, misses); }

  /** The template's text, or undefined if any of its own expressions is unresolved (a name or collection). */
  private strict(src: string, frames: readonly Frame[]): string | undefined {
    const misses = { n: 0 };
    const out = this.template(src, frames, misses);
    return misses.n ? undefined : out;
  }

  private render(nodes: readonly Node[], frames: readonly Frame[], misses?: Misses): string {
    let out = '';
    for (const n of nodes) {
      if (n.t === 'text') { out += n.text; continue; }
      let v: string | undefined;
      if (n.t === 'expr') v = this.expression(n.body, frames);
      else if (n.t === 'each') v = this.each(n, frames, misses);
      else {
        const test = this.condition(n.test, frames);
        v = test === undefined ? undefined : this.render(test !== n.negate ? n.then : n.else, frames, misses);
      }
      if (v === undefined && misses) misses.n++;
      out += v ?? n.raw;
    }
    return out;
  }

  /** A name's place: a local of an #{each}, or the dictionary name it stands for (List[Key].Prop for item.Prop). */
  private locate(name: string, frames: readonly Frame[]): { local?: string; name: string } {
    let key = name;
    for (let i = frames.length - 1; i >= 0; i--) {
      const f = frames[i];
      const lower = key.toLowerCase();
      const local = f?.vars.get(lower);
      if (local !== undefined) return { local, name: key };
      if (f?.prefix !== undefined && lower.startsWith(f.item) && '.['.includes(lower.charAt(f.item.length) || '-')) key = f.prefix + key.slice(f.item.length);
    }
    return { name: key };
  }

  lookup(name: string, frames: readonly Frame[] = []): string | undefined {
    const at = this.locate(name, frames);
    return at.local ?? this.variable(at.name, frames);
  }

  /** A dictionary variable's value, evaluated; undefined if unknown or part of a cycle being evaluated. */
  private variable(name: string, frames: readonly Frame[]): string | undefined {
    const raw = this.dict.get(name);
    if (raw === undefined || !raw.includes('#{')) return raw;
    const key = name.toLowerCase();
    const cacheable = frames.length === 0;
    const known = cacheable ? this.memo.get(key) : undefined;
    if (known !== undefined) return known;
    if (this.resolving.has(key) || this.resolving.size >= MAX_DEPTH) { this.cycles++; return undefined; }
    const cycles = this.cycles;
    this.resolving.add(key);
    try {
      const value = this.template(raw, frames);
      if (cacheable && cycles === this.cycles) this.memo.set(key, value); // a value cut short by a cycle depends on where it was asked for
      return value;
    } finally {
      this.resolving.delete(key);
    }
  }

  private expression(body: string, frames: readonly Frame[]): string | undefined {
    const [head = '', ...filters] = splitTop(body, (c) => c === '|');
    const name = this.strict(head.trim(), frames)?.trim();
    if (name === undefined) return undefined;
    let value = name === '' ? undefined : this.lookup(name, frames);
    for (const call of filters) {
      const [fname = '', ...args] = splitTop(call, (c) => /\s/.test(c)).filter((w) => w !== '');
      const filter = FILTERS.get(fname.toLowerCase());
      if (!filter) return undefined;
      const unquote = (a: string) => (a.length >= 2 && a.startsWith('"') && a.endsWith('"') ? a.slice(1, -1) : a);
      value = filter(value, args.map((a) => this.template(unquote(a), frames)));
    }
    return value;
  }

  /** An #{if}'s test: X (truthy), X == Y or X != Y where either side is "text" or an expression; undefined if unevaluable. */
  private condition(test: string, frames: readonly Frame[]): boolean | undefined {
    const operand = (text: string): string | undefined => {
      const t = text.trim();
      if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return t.slice(1, -1);
      const v = this.expression(t, frames);
      return v !== undefined || splitTop(t, (c) => c === '|').length > 1 ? v : ''; // an unknown variable is empty
    };
    const op = scan(test, 0, true, (i) => '=!'.includes(test.charAt(i)) && test.charAt(i + 1) === '=');
    if (op < 0) { const v = operand(test); return v === undefined ? undefined : isTruthy(v); }
    const [left, right] = [operand(test.slice(0, op)), operand(test.slice(op + 2))];
    if (left === undefined || right === undefined) return undefined;
    return (left === right) === (test.charAt(op) === '=');
  }

  private each(node: Extract<Node, { t: 'each' }>, frames: readonly Frame[], misses?: Misses): string | undefined {
    const collection = this.strict(node.collection.trim(), frames)?.trim();
    if (collection === undefined) return undefined;
    const at = this.locate(collection, frames);
    const keys = at.local === undefined ? indexKeys(this.dict, at.name) : [];
    const items = keys.length
      ? keys.map((key) => { const prefix = `${at.name}[${key}]`; return { prefix, value: this.variable(prefix, frames) ?? key }; })
      : (this.lookup(collection, frames) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').map((value) => ({ value, prefix: undefined }));
    const item = node.item.toLowerCase();
    return items.map(({ value, prefix }, i) => {
      const vars = new Map([[EACH_INDEX, String(i)], [EACH_FIRST, i === 0 ? 'True' : 'False'], [EACH_LAST, i === items.length - 1 ? 'True' : 'False'], [item, value]]);
      return this.render(node.body, [...frames, { vars, item, prefix }], misses);
    }).join('');
  }
}

/** The distinct keys K of the variables named `collection[K]...`, in order of first appearance. */
function indexKeys(dict: VariableDictionary, collection: string): string[] {
  const prefix = `${collection.toLowerCase()}[`;
  const keys = new Map<string, string>();
  for (const name of dict.names()) {
    if (!name.toLowerCase().startsWith(prefix)) continue;
    const end = name.indexOf(']', prefix.length);
    const key = end < 0 ? undefined : name.slice(prefix.length, end);
    if (key && !keys.has(key.toLowerCase())) keys.set(key.toLowerCase(), key);
  }

  return [...keys.values()];
}

/** Variables by name, compared case-insensitively (as Octopus does), keeping each name as first written. */
export class VariableDictionary {
  private readonly entries = new Map<string, { name: string; value: string }>();

  constructor(entries?: Iterable<readonly [string, string]>) { for (const [name, value] of entries ?? []) this.set(name, value); }

  set(name: string, value: string): void {
    const key = name.toLowerCase();
    this.entries.set(key, { name: this.entries.get(key)?.name ?? name, value });
  }

  /** The raw value, not evaluated. */
  get(name: string): string | undefined { return this.entries.get(name.toLowerCase())?.value; }
  has(name: string): boolean { return this.entries.has(name.toLowerCase()); }
  names(): string[] { return [...this.entries.values()].map((e) => e.name); }

  evaluate(template: string): string { return new Evaluator(this).template(template); }

  /** Every variable with its value fully evaluated. */
  evaluatedEntries(): [string, string][] {
    const evaluator = new Evaluator(this);
    return this.names().map((name) => [name, evaluator.lookup(name) ?? this.get(name) ?? '']);
  }
}

export function substitute(template: string, dict: VariableDictionary): string {
  return dict.evaluate(template);
}

/** Octopus truthiness (#{if}, run conditions): false for undefined, blank, "False", "0" and "No" (any case, trimmed). */
export function isTruthy(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  return v !== '' && v !== 'false' && v !== '0' && v !== 'no';
}
