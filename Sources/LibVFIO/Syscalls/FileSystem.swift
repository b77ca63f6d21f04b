// SPDX-License-Identifier: GPL-2.0-only
// Small, errno-preserving file helpers for sysfs and /dev. Unsafe pointer work stays here.
import CVFIOShim
import Glibc
import SystemPackage

package enum FileSystem {
  /// Reads a whole (small) file such as a sysfs attribute.
  package static func read(_ path: String) -> Result<String, Errno> {
    var out: [UInt8] = []
    return forEachChunk(path, size: 4096) { out += $0; return true }.map { String(decoding: out, as: UTF8.self) }
  }

  /// Reads a file in reads of `size` bytes, handing each to `body` until it returns false or the
  /// file ends.
  private static func forEachChunk(_ path: String, size: Int, _ body: (ArraySlice<UInt8>) -> Bool) -> Result<Void, Errno> {
    openFile(path, .readOnly).flatMap { fd in
      defer { try? fd.close() }
      var chunk = [UInt8](repeating: 0, count: size)
      while true {
        let n: Int
        do {
          n = try unsafe chunk.withUnsafeMutableBytes { unsafe try fd.read(into: $0) }
        } catch let e as Errno {
          return .failure(e)
        } catch { return .failure(.ioError) }
        if n == 0 || !body(chunk[..<n]) { return .success(()) }
      }
    }
  }

  /// Which of `needles` occur in the file, read in 1 MiB chunks and searched with memmem(3) (a
  /// chunk overlaps the last one by the longest needle less one byte, so a needle split across
  /// two reads is found). For /proc/kallsyms: tens of MB on a debug kernel, which a String read
  /// and `contains` took seconds over in a debug build under TCG.
  package static func contains(_ path: String, _ needles: [String]) -> Result<[Bool], Errno> {
    let patterns = needles.map { Array($0.utf8) }
    let overlap = max(0, (patterns.map(\.count).max() ?? 0) - 1)
    return openFile(path, .readOnly).flatMap { fd in
      defer { try? fd.close() }
      var found = [Bool](repeating: false, count: patterns.count)
      var buffer = [UInt8](repeating: 0, count: (1 << 20) + overlap)
      var kept = 0
      while found.contains(false) {
        let n: Int
        do {
          n = try unsafe buffer.withUnsafeMutableBytes { unsafe try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[kept...])) }
        } catch let e as Errno {
          return .failure(e)
        } catch { return .failure(.ioError) }
        if n == 0 { break }
        let filled = kept + n
        for (i, p) in patterns.enumerated() where !found[i] && !p.isEmpty && p.count <= filled {
          found[i] = unsafe buffer.withUnsafeBytes { hay in
            unsafe p.withUnsafeBytes { needle in
              unsafe vst_memmem(hay.baseAddress, filled, needle.baseAddress, needle.count) != nil
            }
          }
        }
        // Keep the tail that a needle could straddle into the next read.
        kept = min(overlap, filled)
        if kept > 0 {
          unsafe buffer.withUnsafeMutableBytes { b in
            unsafe b.baseAddress!.copyMemory(from: b.baseAddress! + (filled - kept), byteCount: kept)
          }
        }
      }
      return .success(found)
    }
  }

  /// Reads a text file line by line (without the newline), in 64 KiB reads, until `body`
  /// returns false or the file ends: a large debugfs dump is read only as far as needed.
  package static func forEachLine(_ path: String, _ body: (Substring) -> Bool) -> Result<Void, Errno> {
    var pending: [UInt8] = []
    var stopped = false
    return forEachChunk(path, size: 65536) { chunk in
      pending += chunk
      guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { return true }
      let text = String(decoding: pending[...lastNewline], as: UTF8.self)
      pending.removeSubrange(...lastNewline)
      for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() where !body(line) {
        stopped = true
        return false
      }
      return true
    }.map {
      if !stopped, !pending.isEmpty { _ = body(Substring(String(decoding: pending, as: UTF8.self))) }
    }
  }

  /// Writes `text` to a file with one write(2), as sysfs attributes require.
  package static func write(_ path: String, _ text: String) -> Result<Void, Errno> {
    openFile(path, .writeOnly).flatMap { fd in
      defer { try? fd.close() }
      do {
        let bytes = Array(text.utf8)
        let n = try unsafe bytes.withUnsafeBytes { unsafe try fd.write($0) }
        return n == bytes.count ? .success(()) : .failure(.ioError)
      } catch let e as Errno {
        return .failure(e)
      } catch { return .failure(.ioError) }
    }
  }

  package static func readLink(_ path: String) -> Result<String, Errno> {
    // The link's bytes decoded from the buffer as they are: no zeroed array, no per-byte copy
    // (every device open and requirement check reads one or two links).
    unsafe withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { buf in
      let n = unsafe readlink(path, buf.baseAddress!, buf.count)
      if n < 0 { return .failure(Errno(rawValue: vst_errno())) }
      return .success(unsafe String(decoding: UnsafeRawBufferPointer(start: buf.baseAddress, count: n), as: UTF8.self))
    }
  }

  /// The entries of a directory, without `.` and `..`, sorted.
  package static func list(_ path: String) -> Result<[String], Errno> {
    guard let dir = unsafe opendir(path) else { return .failure(Errno(rawValue: vst_errno())) }
    defer { unsafe _ = closedir(dir) }
    var names: [String] = []
    while let entry = unsafe readdir(dir) {
      let name = unsafe withUnsafeBytes(of: entry.pointee.d_name) { raw in
        unsafe String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return .success(names.sorted())
  }

  /// Creates (or truncates) a regular file with mode 0644 and writes `text` to it.
  package static func create(_ path: String, _ text: String) -> Result<Void, Errno> {
    do {
      let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                                       permissions: [.ownerReadWrite, .groupRead, .otherRead])
      return Result { try fd.closeAfter { _ = try fd.writeAll(Array(text.utf8)) } }.mapError { ($0 as? Errno) ?? .ioError }
    } catch {
      return .failure((error as? Errno) ?? .ioError)
    }
  }

  /// `mkdir -p`: creates `path` and its missing parents (mode 0755).
  package static func makeDirectories(_ path: String) -> Result<Void, Errno> {
    var partial = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
      partial += "/\(part)"
      if unsafe mkdir(partial, 0o755) != 0 {
        let e = Errno(rawValue: vst_errno())
        if e != .fileExists || !isDirectory(partial) { return .failure(e) }
      }
    }
    return .success(())
  }

  /// `unlink(path)`.
  package static func remove(_ path: String) -> Result<Void, Errno> {
    unsafe unlink(path) == 0 ? .success(()) : .failure(Errno(rawValue: vst_errno()))
  }

  /// `rename(from, to)`.
  package static func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
    unsafe Glibc.rename(from, to) == 0 ? .success(()) : .failure(Errno(rawValue: vst_errno()))
  }

  /// Writes `text` to `path` through a temporary file beside it and `rename(2)`: a reader sees
  /// the old file or the whole new one (the temporary file is removed on failure).
  package static func replace(_ path: String, with text: String) -> Result<Void, Errno> {
    let tmp = "\(path).tmp-\(getpid())"
    return create(tmp, text).flatMap { rename(tmp, path) }.mapError { e in _ = remove(tmp); return e }
  }

  /// A file's size and modification time (whole seconds), from `stat(2)`; nil if it cannot be
  /// stat'ed. Enough to tell a rebuilt binary from the one a cache was made for.
  package static func sizeAndModificationTime(_ path: String) -> (size: Int64, mtime: Int64)? {
    var st = stat()
    guard unsafe stat(path, &st) == 0 else { return nil }
    return (Int64(st.st_size), Int64(st.st_mtim.tv_sec))
  }

  /// `access(path, X_OK) == 0`.
  package static func isExecutable(_ path: String) -> Bool {
    unsafe access(path, X_OK) == 0
  }

  package static func exists(_ path: String) -> Bool {
    unsafe access(path, F_OK) == 0
  }

  package static func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return unsafe stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }

  /// The last component of `path` (trailing slashes ignored); `path` itself when it has none.
  /// A byte scan from the end: the Character-level `split` it replaces was the larger part of a
  /// sysfs link lookup in the debug build.
  package static func basename(_ path: String) -> String {
    let slash = UInt8(ascii: "/")
    let u = path.utf8
    var end = u.endIndex
    while end > u.startIndex, u[u.index(before: end)] == slash { end = u.index(before: end) }
    guard end > u.startIndex else { return path }
    var start = end
    while start > u.startIndex, u[u.index(before: start)] != slash { start = u.index(before: start) }
    return String(path[start..<end])
  }
}
