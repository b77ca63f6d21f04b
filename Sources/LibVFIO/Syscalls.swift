// The one layer that touches raw pointers and C return conventions. Everything above it is
// typed and throws VFIOError.
import CVFIOShim
import Glibc
import SystemPackage

/// Runs `body` until it does not fail with EINTR; returns its value or the errno it failed with.
@inline(__always)
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
  package func ioctl<T>(_ request: UInt, _ arg: inout T) -> Result<CInt, Errno> {
    valueOrErrno { unsafe withUnsafeMutableBytes(of: &arg) { unsafe vst_ioctl(rawValue, request, $0.baseAddress) } }
  }

  /// `ioctl(fd, request, buffer)` for variable-length arguments (flexible array members).
  package func ioctl(_ request: UInt, buffer: UnsafeMutableRawBufferPointer) -> Result<CInt, Errno> {
    valueOrErrno { unsafe vst_ioctl(rawValue, request, buffer.baseAddress) }
  }

  /// `ioctl(fd, request, value)` for commands that take an integer argument.
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
}

/// Opens `path`, returning the errno instead of throwing.
package func openFile(_ path: String, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [.closeOnExec]) -> Result<FileDescriptor, Errno> {
  do {
    return .success(try FileDescriptor.open(FilePath(path), mode, options: options))
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
  /// `getenv(name)`, nil when unset.
  package static func environmentValue(_ name: String) -> String? {
    guard let p = unsafe getenv(name) else { return nil }
    return unsafe String(cString: p)
  }
}
