// Octopus variable substitution (Octostache semantics) and variable scoping: pure functions, no
// database, no server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VariableDictionary, isTruthy, substitute } from '../src/deploy/substitution.js';
import { selectVariables, type ScopeContext, type VariableValue } from '../src/deploy/variableScope.js';

const dict = (entries: Record<string, string>) => new VariableDictionary(Object.entries(entries));
const ev = (template: string, entries: Record<string, string> = {}) => dict(entries).evaluate(template);

describe('VariableDictionary', () => {
  it('compares names case-insensitively and keeps the name as first written', () => {
    const d = new VariableDictionary([['Server.Name', 'web01']]);
    d.set('SERVER.NAME', 'web02');
    assert.equal(d.get('server.name'), 'web02');
    assert.equal(d.has('Server.NAME'), true);
    assert.equal(d.has('Server'), false);
    assert.deepEqual(d.names(), ['Server.Name']);
    assert.equal(d.get('Nope'), undefined);
  });

  it('returns the raw value from get and the evaluated one from evaluate', () => {
    const d = dict({ Server: 'Web01', Port: '10933', Url: 'http://#{Server | ToLower}:#{Port}' });
    assert.equal(d.get('Url'), 'http://#{Server | ToLower}:#{Port}');
    assert.equal(d.evaluate('#{Url}/foo'), 'http://web01:10933/foo');
    assert.equal(substitute('#{Url}', d), 'http://web01:10933');
  });

  it('lists every name with its fully evaluated value', () => {
    const d = dict({ A: 'a', B: '#{A}b', C: '#{B}c', D: '#{Missing}' });
    assert.deepEqual(d.evaluatedEntries(), [['A', 'a'], ['B', 'ab'], ['C', 'abc'], ['D', '#{Missing}']]);
  });
});

describe('substitution', () => {
  it('replaces #{Name}, names in any case, with whitespace around them', () => {
    assert.equal(ev('Hello #{Name}, #{name}, #{ NAME }!', { Name: 'World' }), 'Hello World, World, World!');
  });

  it('leaves unknown variables exactly as written', () => {
    assert.equal(ev('a #{Nope} b #{ Nope | ToUpper } c', { Name: 'x' }), 'a #{Nope} b #{ Nope | ToUpper } c');
    assert.equal(ev('#{}'), '#{}');
  });

  it('escapes ##{Name} to a literal #{Name}', () => {
    assert.equal(ev('##{Name} #{Name}', { Name: 'v' }), '#{Name} v');
    assert.equal(ev('#{Literal}', { Literal: '##{Name}', Name: 'v' }), '#{Name}');
  });

  it('handles names with spaces, dots and indexers', () => {
    const vars = { 'Octopus.Action[Step One].Output.Result': 'ok', 'My Variable': 'spaced' };
    assert.equal(ev('#{Octopus.Action[Step One].Output.Result} #{My Variable}', vars), 'ok spaced');
    assert.equal(ev('#{octopus.action[step one].output.result}', vars), 'ok');
  });

  it('evaluates nested expressions inside names and indexers', () => {
    const vars = { StepName: 'Step One', 'Octopus.Action[Step One].Output.X': '42', Suffix: 'Formal', GreetingFormal: 'Good day', Greeting: 'Hi' };
    assert.equal(ev('#{Octopus.Action[#{StepName}].Output.X}', vars), '42');
    assert.equal(ev('#{Greeting#{Suffix}}', vars), 'Good day');
    assert.equal(ev('#{Octopus.Action[#{Missing}].Output.X}', vars), '#{Octopus.Action[#{Missing}].Output.X}');
    assert.equal(ev('#{Greeting#{Suffix}}', { ...vars, Suffix: 'Other' }), '#{Greeting#{Suffix}}');
  });

  it('evaluates values that contain expressions, recursively', () => {
    const vars = { ConnectionString: 'Server=#{Server};Database=#{Database}', Server: '#{Host}:#{Port}', Host: 'sql', Port: '1433', Database: 'db' };
    assert.equal(ev('#{ConnectionString}', vars), 'Server=sql:1433;Database=db');
  });

  it('terminates on cycles, leaving the looping reference as written', () => {
    assert.equal(ev('#{A}', { A: '#{B}', B: '#{A}' }), '#{A}');
    assert.equal(ev('#{B}', { A: '#{B}', B: '#{A}' }), '#{B}');
    assert.equal(ev('#{Self}', { Self: 'x#{Self}' }), 'x#{Self}');
    assert.deepEqual(dict({ A: '#{B}', B: '#{A}' }).evaluatedEntries(), [['A', '#{A}'], ['B', '#{B}']]);
  });

  it('stops a very deep chain of references without throwing', () => {
    const vars: Record<string, string> = { V200: 'end' };
    for (let i = 0; i < 200; i++) vars[`V${i}`] = `#{V${i + 1}}`;
    const out = ev('#{V0}', vars);
    assert.match(out, /^#\{V\d+\}$/);
    assert.equal(ev('#{V150}', vars), 'end');
  });

  it('evaluates values referred to many times over quickly', () => {
    const vars: Record<string, string> = { L0: 'x' };
    for (let i = 1; i <= 20; i++) vars[`L${i}`] = `#{L${i - 1}}#{L${i - 1}}`;
    const started = performance.now();
    assert.equal(ev('#{L20}', vars), 'x'.repeat(2 ** 20));
    assert.ok(performance.now() - started < 2_000);
  });

  it('leaves malformed templates as written without throwing', () => {
    assert.equal(ev('#{if Flag}yes', { Flag: 'True' }), '#{if Flag}yes');
    assert.equal(ev('a #{/each} b #{/if} c #{else} d', {}), 'a #{/each} b #{/if} c #{else} d');
    assert.equal(ev('#{unclosed and #{Name}', { Name: 'n' }), '#{unclosed and n');
    assert.equal(ev('#{each x in L}#{x}', { L: 'a,b' }), '#{each x in L}#{x}');
    assert.equal(ev('#{if A}#{each x in L}#{x}#{/if}', { A: 'true', L: 'a' }), '#{each x in L}#{x}');
    assert.equal(ev('#{if A}1#{else}2#{else}3#{/if}', { A: 'no' }), '2#{else}3');
    assert.equal(ev('#{Name | Replace "}" "x"}', { Name: 'a}b' }), 'axb');
    assert.equal(ev('#{Say "hi}', { 'Say "hi': 'quoted' }), 'quoted');
    assert.equal(ev('x #{', {}), 'x #{');
  });
});

describe('filters', () => {
  const vars = { Name: '  Octopus Deploy  ', Word: 'Octopus Deploy', Html: `You & I <a href="/x">'q'</a>` };

  it('chains filters with |, names in any case', () => {
    assert.equal(ev('#{Name | Trim | ToUpper}', vars), 'OCTOPUS DEPLOY');
    assert.equal(ev('#{Name|trim|tolower}', vars), 'octopus deploy');
    assert.equal(ev('[#{Name | Trim start}][#{Name | Trim end}]', vars), '[Octopus Deploy  ][  Octopus Deploy]');
  });

  it('leaves the whole expression as written for an unknown filter or bad arguments', () => {
    assert.equal(ev('#{Word | Bogus}', vars), '#{Word | Bogus}');
    assert.equal(ev('#{Word | ToUpper | Bogus}', vars), '#{Word | ToUpper | Bogus}');
    assert.equal(ev('#{Word | Truncate x}', vars), '#{Word | Truncate x}');
    assert.equal(ev('#{Word | ToUpper extra}', vars), '#{Word | ToUpper extra}');
    assert.equal(ev('#{Word | Trim middle}', vars), '#{Word | Trim middle}');
  });

  it('Truncate and Substring', () => {
    assert.equal(ev('#{Word | Truncate 7}', vars), 'Octopus...');
    assert.equal(ev('#{Word | Truncate 50}', vars), 'Octopus Deploy');
    assert.equal(ev('#{Word | Truncate 3 ""}', vars), 'Oct');
    assert.equal(ev('#{Word | Substring 7}', vars), 'Octopus');
    assert.equal(ev('#{Word | Substring 8 6}', vars), 'Deploy');
    assert.equal(ev('#{Word | Substring 8 100}', vars), 'Deploy');
    assert.equal(ev('#{Word | Substring 99 1}', vars), '#{Word | Substring 99 1}');
  });

  it('Replace is plain text, with quoted, bare or nested arguments', () => {
    assert.equal(ev('#{V | Replace ";" ", "}', { V: '1;2;3' }), '1, 2, 3');
    assert.equal(ev('#{V | Replace . -}', { V: 'a.b.c' }), 'a-b-c');
    assert.equal(ev('#{V | Replace "a.c"}', { V: 'a.cabc' }), 'abc');
    assert.equal(ev('#{V | Replace #{From} #{To}}', { V: 'red car', From: 'red', To: 'blue' }), 'blue car');
    assert.equal(ev('#{V | Replace "#{From} " ""}', { V: 'red car', From: 'red' }), 'car');
  });

  it('escapes HTML, XML, JSON and URIs', () => {
    assert.equal(ev('#{Html | HtmlEscape}', vars), 'You &amp; I &lt;a href=&quot;&#x2F;x&quot;&gt;&apos;q&apos;&lt;&#x2F;a&gt;');
    assert.equal(ev('#{Html | XmlEscape}', vars), 'You &amp; I &lt;a href=&quot;/x&quot;&gt;&apos;q&apos;&lt;/a&gt;');
    assert.equal(ev('#{J | JsonEscape}', { J: 'say "hi"\\\n\tok\r' }), 'say \\"hi\\"\\\\\\n\\tok\\r');
    assert.equal(ev('#{U | UriEscape}', { U: 'http://x/a b?q=1&r=[2]' }), 'http://x/a%20b?q=1&r=[2]');
    assert.equal(ev("#{U | UriDataEscape}", { U: "a b/c?d=e&f!'()*" }), 'a%20b%2Fc%3Fd%3De%26f%21%27%28%29%2A');
  });

  it('encodes and decodes base64', () => {
    assert.equal(ev('#{V | ToBase64}', { V: 'You & I ✓' }), Buffer.from('You & I ✓').toString('base64'));
    assert.equal(ev('#{V | Base64Encode}', { V: 'hi' }), 'aGk=');
    assert.equal(ev('#{V | ToBase64 unicode}', { V: 'hi' }), 'aABpAA==');
    assert.equal(ev('#{V | FromBase64}', { V: 'aGk=' }), 'hi');
    assert.equal(ev('#{V | Base64Decode}', { V: 'aGk=' }), 'hi');
    assert.equal(ev('#{V | ToBase64 | FromBase64}', { V: 'round ✓ trip' }), 'round ✓ trip');
    assert.equal(ev('#{V | FromBase64}', { V: 'not base64!' }), '#{V | FromBase64}');
  });

  it('NowDate and NowDateUtc, with and without a format', () => {
    const before = Date.now();
    const iso = ev('#{ | NowDateUtc}');
    assert.match(iso, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
    assert.ok(Math.abs(Date.parse(iso.replace(/(\.\d{3})\d{4}Z$/, '$1Z')) - before) < 5_000);
    assert.match(ev('#{ | NowDate}'), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}$/);
    assert.equal(ev('#{ | NowDateUtc yyyy}'), String(new Date().getUTCFullYear()));
    assert.match(ev('#{ | NowDateUtc "yyyy-MM-dd HH:mm"}'), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
  });

  it('Format numbers (best effort, en-US)', () => {
    assert.equal(ev('#{P | Format C}', { P: '4.3' }), '$4.30');
    assert.equal(ev('#{P | Format N2}', { P: '1234.5' }), '1,234.50');
    assert.equal(ev('#{P | Format F1}', { P: '1234.56' }), '1234.6');
    assert.equal(ev('#{P | Format P0}', { P: '0.25' }), '25%');
    assert.equal(ev('#{P | Format D5}', { P: '42' }), '00042');
    assert.equal(ev('#{P | Format "#,##0.00"}', { P: '1234567.891' }), '1,234,567.89');
    assert.equal(ev('#{P | Format "0.0#"}', { P: '3.14159' }), '3.14');
    assert.equal(ev('#{P | Format int "000"}', { P: '7' }), '007');
    assert.equal(ev('#{P | Format C}', { P: 'abc' }), '#{P | Format C}');
  });

  it('Format dates (ISO 8601 input, .NET custom and standard formats)', () => {
    const vars = { When: '2024-03-05T14:07:09.123Z', Naive: '2024-12-25 08:30' };
    assert.equal(ev('#{When | Format "yyyy/MM/dd HH:mm:ss.fff"}', vars), '2024/03/05 14:07:09.123');
    assert.equal(ev('#{When | Format "ddd, d MMM yy h:mm tt"}', vars), 'Tue, 5 Mar 24 2:07 PM');
    assert.equal(ev('#{When | Format "dddd MMMM"}', vars), 'Tuesday March');
    assert.equal(ev('#{When | Format o}', vars), '2024-03-05T14:07:09.1230000Z');
    assert.equal(ev('#{When | Format s}', vars), '2024-03-05T14:07:09');
    assert.equal(ev('#{Naive | Format datetime "yyyy-MM-dd\'T\'HH"}', vars), '2024-12-25T08');
    assert.equal(ev('#{Naive | Format "\'Day\' d"}', vars), 'Day 25');
  });

  it('Indent', () => {
    assert.equal(ev('#{V | Indent}', { V: 'a\nb' }), '    a\n    b');
    assert.equal(ev('#{V | Indent 2}', { V: 'a\nb' }), '  a\n  b');
    assert.equal(ev('#{V | Indent /2}', { V: 'a\nb' }), 'a\n  b');
    assert.equal(ev('#{V | Indent "> "}', { V: 'a\nb' }), '> a\n> b');
  });

  it('are not applied to an unknown variable', () => {
    assert.equal(ev('#{Missing | ToUpper}'), '#{Missing | ToUpper}');
    assert.equal(ev('#{Missing | Markdown}'), '#{Missing | Markdown}');
  });
});

describe('conditionals', () => {
  it('#{if} with #{else} follows Octopus truthiness', () => {
    const t = '#{if Flag}yes#{else}no#{/if}';
    for (const v of ['True', 'true', 'anything', '1', 'yes']) assert.equal(ev(t, { Flag: v }), 'yes', v);
    for (const v of ['False', 'FALSE', '0', 'No', ' no ', '', '  ']) assert.equal(ev(t, { Flag: v }), 'no', JSON.stringify(v));
    assert.equal(ev(t), 'no');
    assert.equal(ev('#{if Flag}yes#{/if}', { Flag: 'False' }), '');
  });

  it('#{unless}', () => {
    assert.equal(ev('#{unless Flag}off#{else}on#{/unless}', { Flag: 'False' }), 'off');
    assert.equal(ev('#{unless Flag}off#{else}on#{/unless}', { Flag: 'True' }), 'on');
    assert.equal(ev('#{unless Missing}none#{/unless}'), 'none');
  });

  it('compares with == and != against text or another variable', () => {
    const vars = { Env: 'Production', Other: 'Production', Lower: 'production' };
    assert.equal(ev('#{if Env == "Production"}P#{else}N#{/if}', vars), 'P');
    assert.equal(ev('#{if Env == "production"}P#{else}N#{/if}', vars), 'N');
    assert.equal(ev('#{if Env != "Test"}not test#{/if}', vars), 'not test');
    assert.equal(ev('#{if Env != "Production"}x#{else}y#{/if}', vars), 'y');
    assert.equal(ev('#{if Env == Other}same#{/if}', vars), 'same');
    assert.equal(ev('#{if Env == Lower}same#{else}differ#{/if}', vars), 'differ');
    assert.equal(ev('#{if Env | ToLower == "production"}lowered#{/if}', vars), 'lowered');
    assert.equal(ev('#{if Missing == ""}empty#{/if}', vars), 'empty');
  });

  it('nests conditionals and evaluates expressions inside branches', () => {
    const t = '#{if A}a#{if B}b#{else}!b#{/if}#{else}!a#{unless B}!b#{/unless}#{/if}:#{Name}';
    assert.equal(ev(t, { A: 'true', B: 'true', Name: 'n' }), 'ab:n');
    assert.equal(ev(t, { A: 'true', B: 'false', Name: 'n' }), 'a!b:n');
    assert.equal(ev(t, { A: 'false', B: 'false', Name: 'n' }), '!a!b:n');
  });

  it('evaluates nested expressions in the condition', () => {
    const vars = { Step: 'Deploy', 'Octopus.Action[Deploy].Output.Ok': 'True' };
    assert.equal(ev('#{if Octopus.Action[#{Step}].Output.Ok}ok#{/if}', vars), 'ok');
  });

  it('leaves the whole block as written when the condition uses an unknown filter', () => {
    assert.equal(ev('#{if Flag | Bogus}yes#{/if}!', { Flag: 'true' }), '#{if Flag | Bogus}yes#{/if}!');
  });
});

describe('iteration', () => {
  it('iterates a comma-separated value, trimming items', () => {
    assert.equal(ev('#{each s in Servers}[#{s}]#{/each}', { Servers: 'web01, web02 ,web03' }), '[web01][web02][web03]');
    assert.equal(ev('#{each s in Servers}[#{s}]#{/each}', { Servers: '' }), '');
    assert.equal(ev('#{each s in Missing}[#{s}]#{/each}.'), '.');
  });

  it('exposes Octopus.Template.Each.First, Last and Index', () => {
    const t = '#{each s in L}#{Octopus.Template.Each.Index}#{if Octopus.Template.Each.First}<#{/if}#{s}#{unless Octopus.Template.Each.Last},#{/unless}#{/each}';
    assert.equal(ev(t, { L: 'a,b,c' }), '0<a,1b,2c');
    assert.equal(ev('#{each s in L}#{Octopus.Template.Each.First}/#{Octopus.Template.Each.Last}#{/each}', { L: 'only' }), 'True/True');
  });

  it('iterates indexed collections by their distinct keys in order of first appearance', () => {
    const vars = new VariableDictionary([
      ['Endpoint[B].Address', 'b.example'], ['Endpoint[A].Address', 'a.example'], ['Endpoint[B].Port', '81'],
      ['Endpoint[A].Port', '80'], ['Endpoint[A]', 'Alpha'], ['Other[Z].Address', 'z'],
    ]);
    assert.equal(vars.evaluate('#{each e in Endpoint}#{e}=#{e.Address}:#{e.Port};#{/each}'), 'B=b.example:81;Alpha=a.example:80;');
    assert.equal(vars.evaluate('#{each e in endpoint}#{E.address} #{/each}'), 'b.example a.example ');
    assert.equal(vars.evaluate('#{each e in Endpoint}#{e.Missing}#{/each}'), '#{e.Missing}#{e.Missing}');
  });

  it('nests each in each and in conditionals; inner locals shadow outer ones', () => {
    const vars = { Outer: 'x,y', Inner: '1,2', On: 'true' };
    const t = '#{each o in Outer}#{each i in Inner}#{o}#{i}#{if Octopus.Template.Each.Last};#{else},#{/if}#{/each}#{/each}';
    assert.equal(ev(t, vars), 'x1,x2;y1,y2;');
    assert.equal(ev('#{if On}#{each o in Outer}#{o}#{/each}#{/if}', vars), 'xy');
    assert.equal(ev('#{each Name in Outer}#{Name}#{/each}|#{Name}', { ...vars, Name: 'global' }), 'xy|global');
  });

  it('iterates a nested collection reached through the loop variable', () => {
    const vars = new VariableDictionary([
      ['Site[One].Binding[http].Port', '80'], ['Site[One].Binding[https].Port', '443'], ['Site[Two].Binding[http].Port', '8080'],
    ]);
    const t = '#{each s in Site}#{s}(#{each b in s.Binding}#{b}:#{b.Port} #{/each})#{/each}';
    assert.equal(vars.evaluate(t), 'One(http:80 https:443 )Two(http:8080 )');
  });

  it('lets a variable value refer to the loop variable', () => {
    assert.equal(ev('#{each s in L}#{Url};#{/each}', { L: 'a,b', Url: 'http://#{s}/' }), 'http://a/;http://b/;');
  });
});

describe('isTruthy', () => {
  it('is false for undefined, blank, False, 0 and No in any case, trimmed', () => {
    for (const v of [undefined, '', ' ', '\t\n', 'False', 'false', ' FALSE ', '0', ' 0', 'No', 'no', 'NO ']) assert.equal(isTruthy(v), false, JSON.stringify(v));
  });

  it('is true otherwise', () => {
    for (const v of ['True', 'true', '1', 'yes', 'Yes', 'anything', '00', 'off', 'Nope', '-1']) assert.equal(isTruthy(v), true, v);
  });
});

describe('selectVariables', () => {
  const value = (name: string, v: string, scope: VariableValue['scope'] = {}): VariableValue => ({ name, value: v, sensitive: false, scope });
  const pick = (values: VariableValue[], ctx: ScopeContext) => new Map([...selectVariables(values, ctx)].map(([k, v]) => [k, v.value]));
  const prod: ScopeContext = { environmentId: 'Environments-2', channelId: 'Channels-1', actionId: 'Action-1' };

  it('keeps unscoped values and drops values scoped to another environment', () => {
    const values = [value('LogLevel', 'Info'), value('LogLevel', 'Warn', { Environment: ['Environments-2', 'Environments-3'] }), value('Db', 'uat', { Environment: ['Environments-1'] })];
    assert.deepEqual(pick(values, prod), new Map([['LogLevel', 'Warn']]));
    assert.deepEqual(pick(values, { environmentId: 'Environments-9' }), new Map([['LogLevel', 'Info']]));
    assert.deepEqual(pick(values, { environmentId: 'Environments-1' }), new Map([['LogLevel', 'Info'], ['Db', 'uat']]));
  });

  it('picks the more specific value whatever the order', () => {
    const scoped = value('X', 'env', { Environment: ['Environments-2'] });
    assert.equal(pick([value('X', 'any'), scoped], prod).get('X'), 'env');
    assert.equal(pick([scoped, value('X', 'any')], prod).get('X'), 'env');
  });

  it('ranks action over environment over channel, and more matching dimensions over fewer', () => {
    const env = value('X', 'env', { Environment: ['Environments-2'] });
    const channel = value('X', 'channel', { Channel: ['Channels-1'] });
    const both = value('X', 'env+channel', { Environment: ['Environments-2'], Channel: ['Channels-1'] });
    const action = value('X', 'action', { Action: ['Action-1'] });
    assert.equal(pick([env, channel], prod).get('X'), 'env');
    assert.equal(pick([channel, env], prod).get('X'), 'env');
    assert.equal(pick([both, env, channel], prod).get('X'), 'env+channel');
    assert.equal(pick([action, both], prod).get('X'), 'action');
    assert.equal(pick([both, action], prod).get('X'), 'action');
  });

  it('requires every scoped dimension to match', () => {
    const values = [value('X', 'any'), value('X', 'wrong channel', { Environment: ['Environments-2'], Channel: ['Channels-9'] })];
    assert.equal(pick(values, prod).get('X'), 'any');
  });

  it('does not match a channel or action scope when the context has none', () => {
    const values = [value('X', 'any'), value('X', 'channel', { Channel: ['Channels-1'] }), value('X', 'action', { Action: ['Action-1'] })];
    assert.equal(pick(values, { environmentId: 'Environments-2' }).get('X'), 'any');
    assert.equal(pick(values, { environmentId: 'Environments-2', actionId: 'Action-1' }).get('X'), 'action');
  });

  it('never matches Role, Machine or TenantTag scopes (steps run on the server)', () => {
    const values = [value('X', 'role', { Role: ['web'] }), value('Y', 'machine', { Machine: ['Machines-1'] }), value('Z', 'tag', { TenantTag: ['a/b'] }), value('Z', 'plain')];
    assert.deepEqual(pick(values, prod), new Map([['Z', 'plain']]));
  });

  it('ignores ProcessOwner unless the context names its process owner', () => {
    const values = [value('X', 'any'), value('X', 'process', { ProcessOwner: ['Projects-1'] })];
    assert.equal(pick(values, prod).get('X'), 'process');
    assert.equal(pick(values, { ...prod, processOwnerId: 'Projects-1' }).get('X'), 'process');
    assert.equal(pick(values, { ...prod, processOwnerId: 'Runbooks-1' }).get('X'), 'any');
    const env = value('X', 'env', { Environment: ['Environments-2'] });
    assert.equal(pick([env, values[1] as VariableValue], { ...prod, processOwnerId: 'Projects-1' }).get('X'), 'env');
  });

  it('treats an empty scope list as unscoped in that dimension', () => {
    assert.equal(pick([value('X', 'first', { Environment: [] }), value('X', 'second')], prod).get('X'), 'second');
  });

  it('breaks ties by the later value', () => {
    const a = value('X', 'a', { Environment: ['Environments-2'] });
    const b = value('X', 'b', { Environment: ['Environments-1', 'Environments-2'] });
    assert.equal(pick([a, b], prod).get('X'), 'b');
    assert.equal(pick([b, a], prod).get('X'), 'a');
    assert.equal(pick([value('X', '1'), value('X', '2')], prod).get('X'), '2');
  });

  it('groups names case-insensitively, keyed by the winning value as written', () => {
    const values = [value('Db.Name', 'plain'), value('DB.NAME', 'scoped', { Environment: ['Environments-2'] }), value('db.name', 'other env', { Environment: ['Environments-1'] })];
    const selected = selectVariables(values, prod);
    assert.deepEqual([...selected.keys()], ['DB.NAME']);
    assert.equal(selected.get('DB.NAME'), values[1]);
  });

  it('keeps the sensitive flag of the winning value', () => {
    const selected = selectVariables([value('Secret', 'x'), { name: 'Secret', value: 'y', sensitive: true, scope: { Environment: ['Environments-2'] } }], prod);
    assert.equal(selected.get('Secret')?.sensitive, true);
    assert.equal(selected.get('Secret')?.value, 'y');
  });
});
