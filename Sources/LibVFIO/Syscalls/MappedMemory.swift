// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import Glibc
import SystemPackage

/// A region of this process's address space from `mmap` (a BAR, a DMA buffer, a memfd view).
/// Accessors are bounds-checked; `unmap()` runs once and deinit unmaps too.
public final class MappedMemory {
  /// The host virtual address, for DMA maps and for printing.
  public let address: UInt
  public let size: Int
  private var mapped = true

  init(address: UInt, size: Int) {
    self.address = address
    self.size = size
  }

  deinit { unmap() }

  public func unmap() {
    guard mapped else { return }
    mapped = false
    unsafe _ = munmap(UnsafeMutableRawPointer(bitPattern: address), size)
  }

  private func pointer(_ offset: Int, _ width: Int) -> UnsafeMutableRawPointer {
    precondition(mapped, "access to an unmapped region")
    precondition(offset >= 0 && offset + width <= size, "access at offset \(offset) past the region's \(size) bytes")
    return unsafe UnsafeMutableRawPointer(bitPattern: address)! + offset
  }

  /// A volatile load of exactly one access of `T`'s size (1, 2, 4 or 8 bytes), suitable for
  /// MMIO: a register read once. (A generic `loadUnaligned` lowers to memcpy, which glibc does
  /// as two overlapping 4- or 8-byte loads.)
  public func load<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T {
    let p = unsafe pointer(offset, MemoryLayout<T>.size)
    switch MemoryLayout<T>.size {
    case 1: return unsafe T(truncatingIfNeeded: vst_mmio_read8(p))
    case 2: return unsafe T(truncatingIfNeeded: vst_mmio_read16(p))
    case 4: return unsafe T(truncatingIfNeeded: vst_mmio_read32(p))
    case 8: return unsafe T(truncatingIfNeeded: vst_mmio_read64(p))
    default: preconditionFailure("MMIO load of \(MemoryLayout<T>.size) bytes: only 1, 2, 4 or 8")
    }
  }

  /// A volatile store of exactly one access of `T`'s size, suitable for MMIO: a register written
  /// once. (A generic `storeBytes` lowers to memcpy, which glibc does as two overlapping 4- or
  /// 8-byte stores to the same address: a doorbell or interrupt-raise register would fire twice.)
  public func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
    let p = unsafe pointer(offset, MemoryLayout<T>.size)
    switch MemoryLayout<T>.size {
    case 1: unsafe vst_mmio_write8(p, UInt8(truncatingIfNeeded: value))
    case 2: unsafe vst_mmio_write16(p, UInt16(truncatingIfNeeded: value))
    case 4: unsafe vst_mmio_write32(p, UInt32(truncatingIfNeeded: value))
    case 8: unsafe vst_mmio_write64(p, UInt64(truncatingIfNeeded: value))
    default: preconditionFailure("MMIO store of \(MemoryLayout<T>.size) bytes: only 1, 2, 4 or 8")
    }
  }

  /// Copies bytes out of the region.
  public func bytes(at offset: Int = 0, count: Int) -> [UInt8] {
    let p = unsafe pointer(offset, count)
    return unsafe Array(UnsafeRawBufferPointer(start: p, count: count))
  }

  /// Whether the region holds `text`'s UTF-8 bytes and then a NUL at `offset`: C's
  /// `strcmp(text, region) == 0` for a text with no NUL of its own, compared in place (one
  /// memcmp, no copy of the region). False when the text and its NUL do not fit.
  public func holdsCString(_ text: String, at offset: Int = 0) -> Bool {
    guard offset >= 0, offset < size else { return false }
    let p = unsafe pointer(offset, 1)
    return unsafe Self.holdsCString(text, at: UnsafeRawPointer(p), room: size - offset)
  }

  /// Whether the `room` bytes at `p` start with `text`'s UTF-8 bytes and a NUL.
  private static func holdsCString(_ text: String, at p: UnsafeRawPointer, room: Int) -> Bool {
    var text = text
    return text.withUTF8 { utf8 in
      guard utf8.count < room else { return false }
      // The first NUL is the text's own (strnlen), and the bytes before it are the text's.
      guard unsafe strnlen(p.assumingMemoryBound(to: CChar.self), utf8.count + 1) == utf8.count else { return false }
      if utf8.isEmpty { return true }
      return unsafe memcmp(p, utf8.baseAddress!, utf8.count) == 0
    }
  }

  /// The region's bytes up to the first NUL (or its end) as UTF-8: the C string at its start,
  /// read in place.
  public func cString() -> String {
    guard size > 0 else { return "" }
    return unsafe Self.cString(at: UnsafeRawPointer(pointer(0, size)), room: size)
  }

  private static func cString(at p: UnsafeRawPointer, room: Int) -> String {
    let bytes = unsafe UnsafeRawBufferPointer(start: p, count: room)
    return unsafe String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
  }

  /// Maps `size` bytes of `fd` shared and read-only, compares them with `text` as
  /// `holdsCString` does (C's `strcmp(text, map) == 0`), and unmaps them: one mmap and one
  /// munmap, and no object (how a retrieved Live Update memfd is checked, once per file).
  /// Success(nil) when they match; success(the bytes up to the first NUL, as a String) when not.
  public static func sharedCStringMismatchResult(_ fd: FileDescriptor, size: Int, expecting text: String) -> Result<String?, Errno> {
    guard let p = unsafe mmap(nil, size, PROT_READ, MAP_SHARED, fd.rawValue, 0), unsafe p != MAP_FAILED else {
      return .failure(Errno(rawValue: vst_errno()))
    }
    defer { unsafe _ = munmap(p, size) }
    if unsafe holdsCString(text, at: UnsafeRawPointer(p), room: size) { return .success(nil) }
    return unsafe .success(cString(at: UnsafeRawPointer(p), room: size))
  }

  /// Sets `count` bytes from `offset` to `byte` (memset).
  public func fill(_ byte: UInt8, at offset: Int = 0, count: Int) {
    let p = unsafe pointer(offset, count)
    unsafe p.initializeMemory(as: UInt8.self, repeating: byte, count: count)
  }

  public func write(_ bytes: [UInt8], at offset: Int = 0) {
    let p = unsafe pointer(offset, bytes.count)
    unsafe bytes.withUnsafeBytes { unsafe p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
  }

  /// `madvise(address, size, advice)` over the whole region, once: the errno on failure.
  package func advise(_ advice: CInt) -> Result<Void, Errno> {
    precondition(mapped, "madvise of an unmapped region")
    return valueOrErrno(retryOnInterrupt: false) { unsafe madvise(UnsafeMutableRawPointer(bitPattern: address), size, advice) }.map { _ in () }
  }

  /// `madvise(MADV_HUGEPAGE)` over the whole region (as libvfio does for BAR mappings).
  package func adviseHugePages() -> Result<Void, Errno> {
    advise(MADV_HUGEPAGE)
  }

  /// The kernel's `iosubmit_cmds512`: copies `count` 64-byte units from `source` at
  /// `sourceOffset` to this region at `offset` with MOVDIR64B, each unit one 64-byte store (a
  /// DSA or IOAT portal write).
  package func submitCommands512(at offset: Int, from source: MappedMemory, sourceOffset: Int, count: Int = 1) {
    let dst = unsafe pointer(offset, 64 * count)
    let src = unsafe source.pointer(sourceOffset, 64 * count)
    unsafe vst_iosubmit_cmds512(dst, src, count)
  }

  // MARK: creating mappings

  public struct Protection: OptionSet, Sendable {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }
    public static let read = Protection(rawValue: PROT_READ)
    public static let write = Protection(rawValue: PROT_WRITE)
  }

  /// Anonymous private memory (`MAP_ANONYMOUS|MAP_PRIVATE`), as the DMA tests use.
  public static func anonymousResult(size: Int, extraFlags: CInt = 0) -> Result<MappedMemory, Errno> {
    unsafe map(nil, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | extraFlags, -1, 0)
  }

  /// Anonymous shared memory (`MAP_ANONYMOUS|MAP_SHARED`), as `vfio_pci_driver_test` maps its
  /// memcpy and driver regions.
  public static func anonymousSharedResult(size: Int) -> Result<MappedMemory, Errno> {
    unsafe map(nil, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_SHARED, -1, 0)
  }

  /// A shared mapping of `fd` at `offset`.
  public static func sharedResult(_ fd: FileDescriptor, offset: Int64, size: Int, protection: Protection = [.read, .write]) -> Result<MappedMemory, Errno> {
    unsafe map(nil, size, protection.rawValue, MAP_SHARED, fd.rawValue, offset)
  }

  /// Maps `size` bytes of `fd` shared and writable, writes `string` there as
  /// `snprintf(map, size, "%s", string)` does (at most `size - 1` bytes of its UTF-8, then a
  /// NUL), and unmaps it: one mmap and one munmap, and no object (this is how a Live Update
  /// memfd is filled, once per preserved file).
  public static func writeCStringResult(_ string: String, toShared fd: FileDescriptor, size: Int) -> Result<Void, Errno> {
    precondition(size > 0, "writeCStringResult with no room for the NUL")
    guard let p = unsafe mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0), unsafe p != MAP_FAILED else {
      return .failure(Errno(rawValue: vst_errno()))
    }
    var s = string
    s.withUTF8 { utf8 in
      let n = min(utf8.count, size - 1)
      if n > 0 { unsafe p.copyMemory(from: utf8.baseAddress!, byteCount: n) }
      unsafe p.storeBytes(of: 0, toByteOffset: n, as: UInt8.self)
    }
    unsafe _ = munmap(p, size)
    return .success(())
  }

  /// The system page size.
  public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

  /// Reserves `size` bytes of address space such that `address % align == alignOffset`
  /// (libvfio's `mmap_reserve`), then maps `fd` there with `MAP_SHARED|MAP_FIXED`.
  public static func sharedAlignedResult(_ fd: FileDescriptor, fileOffset: Int64, size: Int, align: Int, alignOffset: Int = 0, protection: Protection) -> Result<MappedMemory, Errno> {
    precondition(align > 0 && align & (align - 1) == 0 && alignOffset < align)
    let total = size + align
    guard let base = unsafe mmap(nil, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), unsafe base != MAP_FAILED else {
      return .failure(Errno(rawValue: vst_errno()))
    }
    let start = UInt(bitPattern: base)
    var aligned = (start + UInt(align) - 1) & ~(UInt(align) - 1) + UInt(alignOffset)
    if aligned >= start + UInt(align) { aligned -= UInt(align) }
    // Trim the head and tail so only [aligned, aligned + size) stays reserved.
    if aligned > start { unsafe _ = munmap(base, Int(aligned - start)) }
    let end = aligned + UInt(size)
    let totalEnd = start + UInt(total)
    if totalEnd > end { unsafe _ = munmap(UnsafeMutableRawPointer(bitPattern: end), Int(totalEnd - end)) }
    let r = unsafe map(UnsafeMutableRawPointer(bitPattern: aligned), size, protection.rawValue, MAP_SHARED | MAP_FIXED, fd.rawValue, fileOffset)
    if case .failure = r { unsafe _ = munmap(UnsafeMutableRawPointer(bitPattern: aligned), size) }
    return r
  }

  private static func map(_ addr: UnsafeMutableRawPointer?, _ size: Int, _ prot: CInt, _ flags: CInt, _ fd: CInt, _ offset: Int64) -> Result<MappedMemory, Errno> {
    guard let p = unsafe mmap(addr, size, prot, flags, fd, off_t(offset)), unsafe p != MAP_FAILED else {
      return .failure(Errno(rawValue: vst_errno()))
    }
    return .success(MappedMemory(address: UInt(bitPattern: p), size: size))
  }
}
