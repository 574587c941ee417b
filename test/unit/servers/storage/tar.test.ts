import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  TarFormatError,
  readTarEntries,
  tarEnd,
  tarHeader,
  tarPadding,
} from '../../../../src/servers/storage/tar';

function buildTar(entries: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of entries)
    parts.push(tarHeader({ name, size: data.length, mtime: new Date(0) }), data, tarPadding(data.length));
  parts.push(tarEnd());
  return Buffer.concat(parts);
}

describe('tiny tar', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tar-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when entries are written, then the reader finds each name, size and offset of the bytes', async () => {
    const a = Buffer.from('hello');
    const b = Buffer.alloc(1500, 3);
    const file = path.join(dir, 'a.tar');
    const tar = buildTar([
      ['MANIFEST.json', a],
      ['files/000001', b],
      ['files/000002', Buffer.alloc(0)],
    ]);
    fs.writeFileSync(file, tar);
    const entries = await readTarEntries(file, 10);
    expect(entries.map((e) => [e.name, e.size])).toEqual([
      ['MANIFEST.json', 5],
      ['files/000001', 1500],
      ['files/000002', 0],
    ]);
    const e1 = entries[1]!;
    expect(tar.subarray(e1.offset, e1.offset + e1.size).equals(b)).toBe(true);
  });

  it('when the system tar reads our archive, then it lists the same entries', () => {
    const file = path.join(dir, 'b.tar');
    fs.writeFileSync(
      file,
      buildTar([
        ['MANIFEST.json', Buffer.from('{}')],
        ['files/000001', Buffer.from('x')],
      ]),
    );
    let listing: string;
    try {
      listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8', timeout: 10_000 });
    } catch {
      return; // no tar binary on this machine: the reader test above still covers the format
    }
    expect(listing.trim().split('\n')).toEqual(['MANIFEST.json', 'files/000001']);
  });

  it('when a header byte is changed, then the checksum mismatch is reported', async () => {
    const tar = buildTar([['files/000001', Buffer.from('abc')]]);
    tar[0] = 'g'.charCodeAt(0);
    const file = path.join(dir, 'c.tar');
    fs.writeFileSync(file, tar);
    await expect(readTarEntries(file, 10)).rejects.toThrow(TarFormatError);
  });

  it('when an entry is a symlink, then it is refused', async () => {
    const h = tarHeader({ name: 'evil', size: 0, mtime: new Date(0) });
    h.write('2', 156, 'latin1');
    h.write('/etc/passwd', 157, 'utf8');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    const file = path.join(dir, 'd.tar');
    fs.writeFileSync(file, Buffer.concat([h, tarEnd()]));
    await expect(readTarEntries(file, 10)).rejects.toThrow(/only regular files/);
  });

  it('when the archive is truncated or has too many entries, then it is refused', async () => {
    const tar = buildTar([
      ['a', Buffer.alloc(600)],
      ['b', Buffer.from('x')],
    ]);
    const cut = path.join(dir, 'e.tar');
    fs.writeFileSync(cut, tar.subarray(0, 700));
    await expect(readTarEntries(cut, 10)).rejects.toThrow(/past the end|end-of-archive/);
    const many = path.join(dir, 'f.tar');
    fs.writeFileSync(many, tar);
    await expect(readTarEntries(many, 1)).rejects.toThrow(/more than 1 entries/);
  });

  it('when a name is longer than 100 bytes, then the writer refuses it', () => {
    expect(() => tarHeader({ name: 'x'.repeat(101), size: 0, mtime: new Date() })).toThrow(/longer than 100/);
  });
});
