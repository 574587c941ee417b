import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  isInside,
  keyProblem,
  resolveImportPath,
  validateKey,
  validatePrefix,
} from '../../../../src/servers/storage/key-safety';

describe('key safety', () => {
  it.each([
    'a',
    'datasets/extract.parquet',
    'models/recommendation_v2.1/model.onnx',
    'a-b_c=d+e@f,g~h/.hidden',
  ])('when the key is %p, then it is accepted', (key) => {
    expect(keyProblem(key)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['../x', /"\.\." segment/],
    ['a/./b', /"\." segment/],
    ['/abs', /absolute/],
    ['C:/x', /absolute/],
    ['a\\b', /backslash/],
    ['a\0b', /NUL/],
    ['%2e%2e/x', /percent-encoded/],
    ['a/%2F/b', /percent-encoded/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['a b', /characters outside/],
    ['a%41', /characters outside/],
    ['x'.repeat(513), /longer than 512/],
  ])('when the key is %p, then it is refused because %p', (key, why) => {
    expect(keyProblem(key)).toMatch(why);
    expect(() => validateKey(key)).toThrow(/is not allowed/);
  });

  it('when a prefix ends with "/" or is empty, then it is accepted; traversal is not', () => {
    expect(validatePrefix('')).toBe('');
    expect(validatePrefix('a/b/')).toBe('a/b/');
    expect(validatePrefix('a/b')).toBe('a/b');
    expect(() => validatePrefix('../')).toThrow(/prefix/);
    expect(() => validatePrefix('a//')).toThrow(/prefix/);
  });

  it('when a path is a sibling with a shared prefix, then isInside says no', () => {
    expect(isInside('/a/store', '/a/store')).toBe(true);
    expect(isInside('/a/store', '/a/store/x/y')).toBe(true);
    expect(isInside('/a/store', '/a/store2/x')).toBe(false);
    expect(isInside('/a/store', '/a')).toBe(false);
    expect(isInside('/a/store', '/a/store/../store2')).toBe(false);
  });

  describe('resolveImportPath', () => {
    let base: string;
    let root: string;
    beforeAll(() => {
      base = fs.mkdtempSync(path.join(os.tmpdir(), 'keysafety-'));
      root = path.join(base, 'store');
      fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
      fs.mkdirSync(path.join(base, 'store2'));
      fs.writeFileSync(path.join(root, 'sub', 'f.txt'), 'x');
      fs.writeFileSync(path.join(base, 'store2', 'secret'), 's');
      fs.symlinkSync(path.join(base, 'store2', 'secret'), path.join(root, 'link'));
      fs.symlinkSync(path.join(root, 'sub', 'f.txt'), path.join(root, 'inner-link'));
    });
    afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

    it('when the path is inside the root, then its real path is returned (symlinks inside the root are fine)', async () => {
      expect(await resolveImportPath([root], 'sub/f.txt')).toBe(
        fs.realpathSync(path.join(root, 'sub', 'f.txt')),
      );
      expect(await resolveImportPath([root], 'inner-link')).toBe(
        fs.realpathSync(path.join(root, 'sub', 'f.txt')),
      );
    });

    it.each([
      ['../store2/secret', /"\.\." segment/],
      ['link', /outside the import root/],
      ['/etc/passwd', /absolute/],
      ['sub\\f.txt', /backslash/],
      ['sub/f.txt\0', /NUL/],
      ['%2E%2E/store2/secret', /percent-encoded/],
      ['sub', /not a regular file/],
      ['nope', /not found/],
    ])('when the path is %p, then it is refused (%p)', async (p, why) => {
      await expect(resolveImportPath([root], p)).rejects.toThrow(why);
    });

    it('when root names a folder that is not configured, then it is refused even if it shares a prefix', async () => {
      await expect(resolveImportPath([root], 'secret', path.join(base, 'store2'))).rejects.toThrow(
        /not an import root/,
      );
    });
  });
});
