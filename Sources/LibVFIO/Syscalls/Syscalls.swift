// SPDX-License-Identifier: GPL-2.0-only
// LibVFIO's one syscall layer (this folder): the only code that imports Glibc, touches raw
// pointers or reads errno. Syscalls.swift: ioctl, pread/pwrite/read/write, open, the EINTR
// retry (`valueOrErrno`) and the one errno bridge (`Result<_, Errno>.get(operation, device:)`
// to VFIOError); FileSystem.swift: sysfs and /dev files; MappedMemory.swift: mmap, madvise,
// MMIO; Process.swift: sleeping, signals, identity, exit, eventfd, O_NONBLOCK. Everything above
// it (LibLiveUpdate, the CLI and vfio-bench included) is typed and throws VFIOError.
// scripts/check-sources.py enforces it.
//
// Naming rule for a call that can fail: the throwing call has the plain name (`reset()`), and
// where callers need the errno as a value its twin returning `Result<_, Errno>` is the same name
// with a `Result` suffix (`resetResult()`); none both throws and returns a Result.
import CVFIOShim
import Glibc
import SystemPackage

// The small generic calls below are @inlinable: LibLiveUpdate and vfio-bench call them from
// another module, where a plain generic runs unspecialized, looking up `Result<I, Errno>`'s
// metadata in the runtime's cache on every system call (docs/benchmark.md).

/// Runs `body` until it does not fail with EINTR; returns its value or the errno it failed with.
@inlinable @inline(__always)
package func valueOrErrno<I: FixedWidthInteger>(
  retryOnInterrupt: Bool = true, _ body: () -> I
) -> Result<I, Errno> {
  while true {
    let r = body()
    if r != -1 { return .success(r) }
    let e = Errno(rawValue: vst_errno())
    if retryOnInterrupt && e == .interrupted { continue }
    return .failure(e)
  }
}

extension FileDescriptor {
  /// `ioctl(fd, request, &arg)`, with `arg` a uAPI struct (or any trivial value).
  @inlinable
  package func ioctl<T>(_ request: UInt, _ arg: inout T) -> Result<CInt, Errno> {
    valueOrErrno { unsafe withUnsafeMutableBytes(of: &arg) { unsafe vst_ioctl(rawValue, request, $0.baseAddress) } }
  }

  /// `ioctl(fd, request, buffer)` for variable-length arguments (flexible array members).
  @inlinable
  package func ioctl(_ request: UInt, buffer: UnsafeMutableRawBufferPointer) -> Result<CInt, Errno> {
    valueOrErrno { unsafe vst_ioctl(rawValue, request, buffer.baseAddress) }
  }

  /// `ioctl(fd, request, value)` for commands that take an integer argument.
  @inlinable
  package func ioctl(_ request: UInt, value: UInt) -> Result<CInt, Errno> {
    valueOrErrno { vst_ioctl_int(rawValue, request, value) }
  }

  /// `ioctl(fd, request, "string")` (VFIO_GROUP_GET_DEVICE_FD takes the device name).
  package func ioctl(_ request: UInt, string: String) -> Result<CInt, Errno> {
    var bytes = Array(string.utf8CString)
    return valueOrErrno { unsafe bytes.withUnsafeMutableBytes { unsafe vst_ioctl(rawValue, request, $0.baseAddress) } }
  }
}

/// Runs `body` with the address of a copy of `bytes` that stays valid until `body` returns: for
/// uAPI fields that carry a user pointer as a `__u64` (such as `token_uuid_ptr`).
package func withUserPointer<R>(to bytes: [UInt8], _ body: (UInt64) -> R) -> R {
  var copy = bytes
  return unsafe copy.withUnsafeMutableBytes { body(UInt64(UInt(bitPattern: $0.baseAddress))) }
}

/// A growable, 8-byte aligned buffer for ioctls whose argument is a header plus trailing data.
/// The header is a uAPI struct; `argsz`-style fields are set by the caller.
@safe struct IoctlBuffer: ~Copyable {
  private(set) var bytes: UnsafeMutableRawBufferPointer

  init(byteCount: Int) {
    unsafe bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(byteCount, 8), alignment: 8)
    unsafe bytes.initializeMemory(as: UInt8.self, repeating: 0)
  }

  deinit { unsafe bytes.deallocate() }

  var count: Int { unsafe bytes.count }

  /// Grows to `byteCount`, keeping the contents.
  mutating func resize(to byteCount: Int) {
    guard byteCount > count else { return }
    let new = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 8)
    unsafe new.initializeMemory(as: UInt8.self, repeating: 0)
    unsafe new.copyMemory(from: UnsafeRawBufferPointer(bytes))
    unsafe bytes.deallocate()
    unsafe bytes = new
  }

  func load<T>(fromByteOffset offset: Int = 0, as type: T.Type) -> T {
    precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "ioctl buffer read out of bounds")
    return unsafe bytes.loadUnaligned(fromByteOffset: offset, as: type)
  }

  func store<T>(_ value: T, toByteOffset offset: Int = 0) {
    precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "ioctl buffer write out of bounds")
    unsafe bytes.storeBytes(of: value, toByteOffset: offset, as: T.self)
  }

  func ioctl(_ fd: FileDescriptor, _ request: UInt) -> Result<CInt, Errno> {
    unsafe fd.ioctl(request, buffer: bytes)
  }

  /// The buffer's address as a uAPI `__u64` user pointer (such as `allowed_iovas`), valid while
  /// the buffer lives.
  var userPointer: UInt64 { UInt64(UInt(bitPattern: unsafe bytes.baseAddress)) }
}

extension FileDescriptor {
  /// `pread(2)` of up to `count` bytes at `offset` (EINTR retried): the bytes read, fewer at the
  /// end of the file, or the errno.
  package func readBytes(count: Int, atAbsoluteOffset offset: Int64) -> Result<[UInt8], Errno> {
    var bytes = [UInt8](repeating: 0, count: count)
    do {
      let n = try unsafe bytes.withUnsafeMutableBytes { unsafe try read(fromAbsoluteOffset: offset, into: $0) }
      return .success(Array(bytes[..<n]))
    } catch {
      return .failure((error as? Errno) ?? .ioError)
    }
  }

  /// `pwrite(2)` of `bytes` at `offset` (EINTR retried): the count written or the errno.
  package func writeBytes(_ bytes: [UInt8], atAbsoluteOffset offset: Int64) -> Result<Int, Errno> {
    do {
      return .success(try unsafe bytes.withUnsafeBytes { unsafe try write(toAbsoluteOffset: offset, $0) })
    } catch {
      return .failure((error as? Errno) ?? .ioError)
    }
  }

  /// `pread(2)` of one `T` at `offset` (EINTR retried), its bytes as stored: the value and the
  /// count read (a short read leaves the rest zero), or the errno.
  /// The config-space and register accesses the suites loop over: `pread` itself, with no
  /// throwing wrapper or error box between (the vfio-bench config read is one pread, as C's).
  package func readValue<T: FixedWidthInteger>(_: T.Type, atAbsoluteOffset offset: Int64) -> Result<(value: T, count: Int), Errno> {
    var value: T = 0
    while true {
      let n = unsafe withUnsafeMutableBytes(of: &value) { unsafe Glibc.pread(rawValue, $0.baseAddress, $0.count, off_t(offset)) }
      if n >= 0 { return .success((value, n)) }
      let e = Errno(rawValue: vst_errno())
      if e != .interrupted { return .failure(e) }
    }
  }

  /// `pwrite(2)` of `value`'s bytes as stored at `offset` (EINTR retried): the count written or
  /// the errno.
  package func writeValue<T: FixedWidthInteger>(_ value: T, atAbsoluteOffset offset: Int64) -> Result<Int, Errno> {
    var value = value
    while true {
      let n = unsafe withUnsafeBytes(of: &value) { unsafe Glibc.pwrite(rawValue, $0.baseAddress, $0.count, off_t(offset)) }
      if n >= 0 { return .success(n) }
      let e = Errno(rawValue: vst_errno())
      if e != .interrupted { return .failure(e) }
    }
  }

  /// One `read(2)` of at most `maxCount` bytes (EINTR retried): the bytes read (empty at end of
  /// stream) or the errno.
  package func readBytes(maxCount: Int) -> Result<[UInt8], Errno> {
    var bytes = [UInt8](repeating: 0, count: maxCount)
    do {
      let n = try unsafe bytes.withUnsafeMutableBytes { unsafe try read(into: $0, retryOnInterrupt: true) }
      return .success(Array(bytes[..<n]))
    } catch {
      return .failure((error as? Errno) ?? .ioError)
    }
  }

  /// One `read(2)` into a `T` (EINTR retried), as an eventfd counter is read: the value and the
  /// count read, or the errno.
  package func readValue<T: FixedWidthInteger>(_: T.Type) -> Result<(value: T, count: Int), Errno> {
    var value: T = 0
    do {
      let n = try unsafe withUnsafeMutableBytes(of: &value) { unsafe try read(into: $0, retryOnInterrupt: true) }
      return .success((value, n))
    } catch {
      return .failure((error as? Errno) ?? .ioError)
    }
  }

  /// One `write(2)` of `bytes` (EINTR retried): the count written or the errno.
  package func writeBytes(_ bytes: ArraySlice<UInt8>) -> Result<Int, Errno> {
    do {
      return .success(try unsafe bytes.withUnsafeBytes { unsafe try write($0, retryOnInterrupt: true) })
    } catch {
      return .failure((error as? Errno) ?? .ioError)
    }
  }
}

/// Opens `path`, returning the errno instead of throwing.
package func openFile(_ path: String, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [.closeOnExec],
                      permissions: FilePermissions? = nil) -> Result<FileDescriptor, Errno> {
  do {
    // The C string straight to open(2): a FilePath would parse and normalize the path first
    // (an allocation and a pass over it on every device and sysfs open).
    return .success(try unsafe path.withCString { unsafe try FileDescriptor.open($0, mode, options: options, permissions: permissions) })
  } catch let e as Errno {
    return .failure(e)
  } catch {
    return .failure(.ioError)
  }
}

extension Result where Failure == Errno {
  /// Turns an errno into a VFIOError naming the operation and the device.
  package func get(_ operation: @autoclosure () -> String, device: @autoclosure () -> String) throws(VFIOError) -> Success {
    switch self {
    case .success(let v): return v
    case .failure(let e): throw .syscall(operation: operation(), device: device(), errno: e)
    }
  }
}

/// Process-wide state read through C.
package enum Syscalls {
  /// The variables of `environ` whose names start with `prefix`.
  package static func environment(prefix: String) -> [String: String] {
    var out: [String: String] = [:]
    guard var p = unsafe Optional(environ) else { return out }
    while let entry = unsafe p.pointee {
      let s = unsafe String(cString: entry)
      if s.hasPrefix(prefix), let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
      unsafe p += 1
    }
    return out
  }

  /// `value` printed as C's `printf("%.*f", decimals, value)` (round-half-even on the binary
  /// value, `-0.0` kept): the CLI's timings, without Foundation's `String(format:)`.
  package static func formatFixed(_ value: Double, decimals: Int) -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    let n = unsafe withVaList([Int32(clamping: decimals), value]) { args in
      unsafe buffer.withUnsafeMutableBufferPointer { unsafe vsnprintf($0.baseAddress, $0.count, "%.*f", args) }
    }
    guard n >= 0, Int(n) < buffer.count else { return "\(value)" }
    return unsafe buffer.withUnsafeBufferPointer { unsafe String(cString: $0.baseAddress!) }
  }

  /// `clock_gettime(CLOCK_MONOTONIC)`.
  package static func monotonicClock() -> timespec {
    var ts = timespec()
    unsafe clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts
  }

  /// Whether `text` contains any of `needles` (`strstr`): libc's optimized search, where the
  /// standard library's generic `contains` runs unoptimized in a debug build.
  package static func containsAny(_ text: String, _ needles: [String]) -> Bool {
    unsafe text.withCString { h in
      for n in needles where unsafe n.withCString({ unsafe strstr(h, $0) != nil }) { return true }
      return false
    }
  }

  /// `fflush(NULL)`: writes out every stdio stream's buffer (`print`'s included).
  package static func flushOutput() {
    _ = fflush(nil)
  }
}
