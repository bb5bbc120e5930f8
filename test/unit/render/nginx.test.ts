import { describe, expect, it } from 'vitest';
import { block, d, renderNginx, token } from '../../../src/render/nginx.js';

describe('the nginx writer', () => {
  it('writes blocks, directives, comment lines and blank lines, four spaces a level', () => {
    const conf = renderNginx([
      { comment: 'Rendered by msting.\nEdit config.yml.' },
      { blank: true },
      block('events', [], [d('worker_connections', 1024), { blank: true }, { comment: 'inside' }]),
    ]);
    expect(conf).toBe('# Rendered by msting.\n# Edit config.yml.\n\nevents {\n    worker_connections 1024;\n\n    # inside\n}\n');
  });

  it('quotes a value only when nginx would not read it as it is, in the quotes its text needs', () => {
    expect(renderNginx([d('set', '$a', 'plain/value:1')])).toBe('set $a plain/value:1;\n');
    expect(renderNginx([d('set', '$a', '')])).toBe('set $a "";\n');
    expect(renderNginx([d('add_header', 'Cache-Control', 'public, immutable')])).toBe('add_header Cache-Control "public, immutable";\n');
    expect(renderNginx([d('return', 200, '{"status":"ok"}')])).toBe('return 200 \'{"status":"ok"}\';\n');
    // \s stays \s; a backslash nginx would read as an escape is doubled.
    expect(renderNginx([d('~"model"\\s*:', '1')])).toBe('\'~"model"\\s*:\' 1;\n');
    expect(renderNginx([d('set', '$a', 'a b\\t\\')])).toBe('set $a "a b\\\\t\\\\";\n');
  });

  it.each([
    'x; } server { listen 81; location / { return 200 owned; } } #',
    'x"; include /etc/passwd; "',
    "x'; include /etc/passwd; '",
    'x\'"; include /etc/passwd; #',
    'x\\',
    '# comment',
  ])('keeps the value %j one argument: the directive after it is unchanged', (value) => {
    const conf = renderNginx([block('server', [], [d('set', '$a', value), d('listen', 80)])]);
    const lines = conf.split('\n');
    expect(lines.length).toBe(5);
    expect(lines[2]).toBe('    listen 80;');
    // What nginx reads as the argument: strip the quotes, undo the escapes it knows.
    const written = lines[1]!.slice('    set $a '.length, -1);
    const quote = written[0]!;
    expect(['"', "'"]).toContain(quote);
    expect(written.at(-1)).toBe(quote);
    const inner = written.slice(1, -1);
    expect(inner.replace(/\\(["'\\])/g, '')).not.toContain(quote);
    expect(inner.replace(/\\(["'\\])/g, '$1')).toBe(value);
  });

  it.each(['a\nb', 'a\rb', 'a\u0000b'])('refuses a value with a line break or control character (%j)', (value) => {
    expect(() => renderNginx([d('set', '$a', value)])).toThrow(/line break or control character/);
    expect(() => renderNginx([{ directive: value, args: [] }])).toThrow(/line break or control character/);
  });

  it('keeps a value in a comment a comment, line by line', () => {
    expect(renderNginx([{ comment: 'Models: a\ninclude /etc/passwd;\r\n}' }])).toBe('# Models: a\n# include /etc/passwd;\n# }\n');
  });

  it('writes a token as it is, and refuses one that is not exactly one nginx word', () => {
    expect(renderNginx([d(token('\\phi3'), 'model_phi3'), d(token('"$a|$b"'), token("'{\"a\":1}'"))])).toBe('\\phi3 model_phi3;\n"$a|$b" \'{"a":1}\';\n');
    for (const bad of ["'a' ; include /etc/passwd; 'b'", '"a" b', '"a\\"', '\\phi3; include /etc/passwd', 'a b', '"a\nb"', '', '#x', '"a']) {
      expect(() => renderNginx([d('set', '$a', token(bad))]), bad).toThrow(/not one token/);
    }
  });
});
