import { describe, expect, it } from 'vitest';
import { columnText, encodeMappedText, epochMsAsIso } from '../../src/sinks/postgres-mapped-copy.js';

describe('mapped values as COPY text', () => {
  it('spells each kind of value as its column converts it', () => {
    expect(columnText({ kind: 'null' }, 'plain')).toBeNull();
    expect(columnText({ kind: 'string', value: 'a\tb' }, 'plain')).toBe('a\tb');
    expect(columnText({ kind: 'string', value: 'say "hi"' }, 'json')).toBe('"say \\"hi\\""');
    expect(columnText({ kind: 'number', text: '12345678901234567890' }, 'plain')).toBe(
      '12345678901234567890',
    );
    expect(columnText({ kind: 'number', text: '19.990000000000000001' }, 'json')).toBe(
      '19.990000000000000001',
    );
    expect(columnText({ kind: 'boolean', value: false }, 'plain')).toBe('false');
    expect(columnText({ kind: 'json', text: '{"a": [1, 2.50]}' }, 'json')).toBe('{"a": [1, 2.50]}');
    expect(columnText({ kind: 'number', text: '0' }, 'time')).toBe('1970-01-01T00:00:00.000Z');
    expect(columnText({ kind: 'string', value: '2024-02-29' }, 'time')).toBe('2024-02-29');
  });

  it('reads a number for a time column as epoch milliseconds, to the microsecond', () => {
    expect(epochMsAsIso('1700000000123')).toBe('2023-11-14T22:13:20.123Z');
    expect(epochMsAsIso('1700000000123.456')).toBe('2023-11-14T22:13:20.123456Z');
    expect(epochMsAsIso('-1.5')).toBe('1969-12-31T23:59:59.998500Z');
    // Beyond what a Date holds: left as written, for the server to refuse with its own message.
    expect(epochMsAsIso('1e300')).toBe('1e300');
  });

  it('encodes text rows, escaping what COPY reads specially, NULL as \\N, numbered on request', () => {
    const rows = [
      ['é ✓', null],
      ['', 'line\nbreak \\ tab\t cr\r'],
    ];
    expect(encodeMappedText(rows).toString('utf8')).toBe('é ✓\t\\N\n\tline\\nbreak \\\\ tab\\t cr\\r\n');
    expect(encodeMappedText(rows, true).toString('utf8')).toBe(
      '0\té ✓\t\\N\n1\t\tline\\nbreak \\\\ tab\\t cr\\r\n',
    );
    expect(encodeMappedText([], true).length).toBe(0);
  });
});
