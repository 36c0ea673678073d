import { inflateRawSync } from 'node:zlib';

/**
 * The entries of a ZIP archive, read from its central directory (enough to tell a DOCX from any
 * other ZIP, and to know what it unpacks to, without unpacking it).
 */

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
// The end record is 22 bytes plus a comment of up to 65,535.
const END_RECORD_SEARCH = 22 + 0xffff;
const DEFLATED = 8;

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; others exist and are rare. */
  method: number;
  compressedSize: number;
  /** What the entry says it unpacks to (0xffffffff: a ZIP64 size, 4 GiB or more). */
  size: number;
  /** Where its local header starts. */
  headerAt: number;
}

/** The archive's entries; undefined when the bytes are not a readable ZIP. */
export function zipEntries(bytes: Buffer): ZipEntry[] | undefined {
  const end = findEndRecord(bytes);
  if (end === undefined) return undefined;
  const count = bytes.readUInt16LE(end + 10);
  let offset = bytes.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (offset + 46 > bytes.length || bytes.readUInt32LE(offset) !== CENTRAL_DIRECTORY_ENTRY) return undefined;
    const nameLength = bytes.readUInt16LE(offset + 28);
    const extraLength = bytes.readUInt16LE(offset + 30);
    const commentLength = bytes.readUInt16LE(offset + 32);
    entries.push({
      name: bytes.toString('utf8', offset + 46, offset + 46 + nameLength),
      method: bytes.readUInt16LE(offset + 10),
      compressedSize: bytes.readUInt32LE(offset + 20),
      size: bytes.readUInt32LE(offset + 24),
      headerAt: bytes.readUInt32LE(offset + 42),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The file names in a ZIP archive; undefined when the bytes are not a readable ZIP. */
export function zipEntryNames(bytes: Buffer): string[] | undefined {
  return zipEntries(bytes)?.map((entry) => entry.name);
}

/**
 * What a ZIP archive unpacks to, when that is at most `limit` bytes; undefined when it is more.
 * The sizes its directory gives are added up, and each deflated entry is unpacked (one at a time,
 * each to at most its given size) to check it holds no more than it says: a crafted archive can
 * say 1 KiB and unpack to gigabytes. A ZIP library unpacks every entry into memory outside the
 * JavaScript heap, where no heap limit stops it: 0.8 MB of DOCX unpacked to 839 MB in a reader.
 * Throws when the bytes are not a ZIP it can check.
 */
export function unpackedSize(bytes: Buffer, limit: number): number | undefined {
  const entries = zipEntries(bytes);
  if (entries === undefined) throw new Error('not a readable ZIP archive');
  let total = 0;
  for (const entry of entries) {
    total += entry.size;
    if (total > limit) return undefined;
  }
  for (const entry of entries) {
    if (entry.method !== DEFLATED || entry.size === 0) continue;
    if (entry.headerAt + 30 > bytes.length || bytes.readUInt32LE(entry.headerAt) !== LOCAL_FILE_HEADER) throw new Error(`the entry "${entry.name}" has no local header`);
    const start = entry.headerAt + 30 + bytes.readUInt16LE(entry.headerAt + 26) + bytes.readUInt16LE(entry.headerAt + 28);
    try {
      inflateRawSync(bytes.subarray(start, start + entry.compressedSize), { maxOutputLength: entry.size });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
      throw new Error(`the entry "${entry.name}" cannot be unpacked (${(error as Error).message})`);
    }
  }
  return total;
}

function findEndRecord(bytes: Buffer): number | undefined {
  const lowest = Math.max(0, bytes.length - END_RECORD_SEARCH);
  for (let at = bytes.length - 22; at >= lowest; at--) {
    if (bytes.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) return at;
  }
  return undefined;
}
