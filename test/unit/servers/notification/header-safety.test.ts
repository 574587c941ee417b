import {
  UnsafeValueError,
  assertSafeFilename,
  assertSafeHeaders,
  assertSingleLine,
  isValidAddress,
  normaliseBodyText,
  parseMailbox,
} from '../../../../src/servers/notification/header-safety';

describe('header safety', () => {
  test('when a header value holds CR, LF, NUL or a Unicode line break, then it is refused with the field and the character named', () => {
    for (const [value, what] of [
      ['a\r\nBcc: x', 'CR'],
      ['a\nb', 'LF'],
      ['a\u0000b', 'NUL'],
      ['a\u2028b', 'U+2028'],
      ['a\u0085b', 'U+0085'],
      ['a\u001bb', 'U+001B'],
    ]) {
      expect(() => assertSingleLine('subject', value as string)).toThrow(
        new RegExp(`^subject: contains the control character ${(what as string).replace('+', '\\+')}`),
      );
    }
    expect(() => assertSingleLine('subject', 'tabs\tare fine – and ünïcödé ✓')).not.toThrow();
  });

  test('when addresses are well-formed, then they parse with or without a display name', () => {
    expect(parseMailbox('to', 'ops@example.com')).toEqual({ name: '', address: 'ops@example.com' });
    expect(parseMailbox('to', 'Ops Team <ops+alerts@mail.example.co.uk>')).toEqual({
      name: 'Ops Team',
      address: 'ops+alerts@mail.example.co.uk',
    });
    expect(parseMailbox('to', '<a@localhost>')).toEqual({ name: '', address: 'a@localhost' });
  });

  test('when an address is malformed, smuggles a list, or uses shell syntax, then parseMailbox refuses it naming the field', () => {
    const bad = [
      '',
      'plain',
      '@example.com',
      'a@',
      'a..b@example.com',
      '.a@example.com',
      'a@-example.com',
      'a@example..com',
      'a@b.com, c@d.com',
      'a@b.com;c@d.com',
      'a|b@example.com',
      '$(id)@example.com',
      '`id`@example.com',
      '"quoted"@example.com',
      'Evil, Inc <a@example.com>',
      'a@example.com>',
      `${'x'.repeat(65)}@example.com`,
    ];
    for (const v of bad) {
      expect(() => parseMailbox('cc[3]', v)).toThrow(UnsafeValueError);
      expect(() => parseMailbox('cc[3]', v)).toThrow(/^cc\[3\]: /);
    }
    expect(isValidAddress(`a@${'l'.repeat(64)}.com`)).toBe(false);
  });

  test('when custom headers are given, then only X- names with one-line values pass', () => {
    expect(() => assertSafeHeaders('headers', { 'X-Run-Id': 'wf-42', 'X-Trace': 'a b c' })).not.toThrow();
    expect(() => assertSafeHeaders('headers', { Bcc: 'x@y.z' })).toThrow(/headers\["Bcc"\]: only custom X-/);
    expect(() => assertSafeHeaders('headers', { 'X-A': 'v\r\nBcc: x' })).toThrow(
      /headers\["X-A"\]: contains the control character CR/,
    );
    expect(() => assertSafeHeaders('headers', { 'X-A\r\nBcc': 'v' })).toThrow(
      /headers name: contains the control character CR/,
    );
    expect(() => assertSafeHeaders('headers', { 'X-A:B': 'v' })).toThrow(/only custom X-/);
  });

  test('when attachment names hold paths or line breaks, then they are refused', () => {
    expect(() => assertSafeFilename('f', 'report final.pdf')).not.toThrow();
    for (const v of ['../x', 'a/b', 'a\\b', '..', '.', ' ', 'a\r\nb'])
      expect(() => assertSafeFilename('f', v)).toThrow(UnsafeValueError);
  });

  test('when body text has CRLF, bare CR and NUL, then it is normalised to LF lines without NUL', () => {
    expect(normaliseBodyText('a\r\nb\rc\nd\u0000e')).toBe('a\nb\nc\nde');
  });
});
