// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import SystemPackage

/// A mapping of host memory into the IOMMU: `size` bytes at host address `vaddr`, seen by the
/// device at `iova`.
public struct DMARegion: Equatable, Sendable {
  public var vaddr: UInt
  public var iova: UInt64
  public var size: UInt64
  public init(vaddr: UInt, iova: UInt64, size: UInt64) {
    self.vaddr = vaddr
    self.iova = iova
    self.size = size
  }
}

/// The IOMMU side of a test, like libvfio's `struct iommu`: a VFIO container (or `/dev/iommu`
/// used as one) in the four container modes, or an iommufd with one IOAS in `iommufd` mode.
/// DMA maps go to whichever the mode uses. `close()` runs once; deinit closes too.
public final class IOMMU {
  public let mode: IOMMUMode
  /// The container fd (`/dev/vfio/vfio` or `/dev/iommu`) in container modes.
  public var containerFD: FileDescriptor? { usesIOMMUFD ? nil : openFD }
  /// The iommufd (`/dev/iommu`) in `iommufd` mode.
  public var iommufd: FileDescriptor? { usesIOMMUFD ? openFD : nil }
  /// The IOAS every device attaches to, in `iommufd` mode (0 in container modes).
  public let ioasID: UInt32
  /// Whether this is an iommufd: from the `let` mode, so the map and unmap paths branch on it
  /// with no access check (each `var` a class method reads costs a runtime exclusivity check,
  /// docs/benchmark.md).
  private var usesIOMMUFD: Bool { !mode.usesContainer }
  /// The container or the iommufd; nil once closed.
  private var openFD: FileDescriptor?
  /// The regions mapped through this object and not yet unmapped. Private storage behind a
  /// public getter: with every access in this file the optimizer drops the runtime exclusivity
  /// checks a public `var` costs on each map and unmap.
  private var regions: [DMARegion] = []
  public var mappedRegions: [DMARegion] { regions }

  /// Changes the list out of place: moved out, changed, moved back. No call happens inside an
  /// access to the stored list, so no access can conflict and the optimizer keeps none of the
  /// runtime checks (an in-place `append` or `remove(at:)` calls out while it holds one).
  @inline(__always)
  private func updateRegions(_ change: (inout [DMARegion]) -> Void) {
    var list = regions
    regions = []
    change(&list)
    regions = list
  }

  /// Opens the container or the iommufd for `mode` (libvfio's `iommu_init`).
  public init(mode: IOMMUMode, paths: SystemPaths = .system) throws(VFIOError) {
    self.mode = mode
    if let container = mode.containerPath {
      let path = container.replacingPrefix("/dev", with: paths.dev)
      let fd = try openFile(path, .readWrite).get("open(\(path))", device: mode.rawValue)
      ioasID = 0
      openFD = fd
      let version = try fd.ioctl(VFIO.GET_API_VERSION, value: 0).get("ioctl(VFIO_GET_API_VERSION)", device: path)
      guard version == VFIO.apiVersion else {
        throw .unexpected(operation: "ioctl(VFIO_GET_API_VERSION)", device: path, detail: "version \(version), expected \(VFIO.apiVersion)")
      }
    } else {
      let path = "\(paths.dev)/iommu"
      let fd = try openFile(path, .readWrite).get("open(\(path))", device: mode.rawValue)
      let ioas: UInt32
      do throws(VFIOError) {
        ioas = try Self.allocateIOASResult(fd).get("ioctl(IOMMU_IOAS_ALLOC)", device: path)
      } catch {
        try? fd.close()  // not yet the object's: deinit would not run
        throw error
      }
      openFD = fd
      ioasID = ioas
    }
  }

  /// `IOMMU_IOAS_ALLOC` on an iommufd; the new IOAS id or the errno.
  public static func allocateIOASResult(_ iommufd: FileDescriptor) -> Result<UInt32, Errno> {
    var alloc = iommu_ioas_alloc()
    alloc.size = UInt32(MemoryLayout<iommu_ioas_alloc>.size)
    return iommufd.ioctl(IOMMUFD.IOAS_ALLOC, &alloc).map { _ in alloc.out_ioas_id }
  }

  deinit { close() }

  /// Closes the iommufd or the container. Safe to call more than once.
  public func close() {
    try? openFD?.close()
    openFD = nil
  }

  var label: String { mode.rawValue }

  private func fd() throws(VFIOError) -> FileDescriptor {
    guard let fd = openFD else {
      throw .unexpected(operation: "iommu", device: label, detail: "used after close()")
    }
    return fd
  }

  // MARK: DMA mapping

  /// Maps `region` read/write (`VFIO_IOMMU_MAP_DMA` or `IOMMU_IOAS_MAP` with a fixed IOVA).
  public func map(_ region: DMARegion) throws(VFIOError) {
    let fd = try fd()
    if usesIOMMUFD {
      var m = iommu_ioas_map()
      m.size = UInt32(MemoryLayout<iommu_ioas_map>.size)
      m.flags = IOMMUFD.IOAS_MAP_FIXED_IOVA | IOMMUFD.IOAS_MAP_WRITEABLE | IOMMUFD.IOAS_MAP_READABLE
      m.ioas_id = ioasID
      m.user_va = UInt64(region.vaddr)
      m.length = region.size
      m.iova = region.iova
      _ = try fd.ioctl(IOMMUFD.IOAS_MAP, &m).get("ioctl(IOMMU_IOAS_MAP, iova 0x\(String(region.iova, radix: 16)), size 0x\(String(region.size, radix: 16)))", device: label)
    } else {
      var m = vfio_iommu_type1_dma_map()
      m.argsz = UInt32(MemoryLayout<vfio_iommu_type1_dma_map>.size)
      m.flags = VFIO.DMA_MAP_FLAG_READ | VFIO.DMA_MAP_FLAG_WRITE
      m.vaddr = UInt64(region.vaddr)
      m.iova = region.iova
      m.size = region.size
      _ = try fd.ioctl(VFIO.IOMMU_MAP_DMA, &m).get("ioctl(VFIO_IOMMU_MAP_DMA, iova 0x\(String(region.iova, radix: 16)), size 0x\(String(region.size, radix: 16)))", device: label)
    }
    updateRegions { $0.append(region) }
  }

  /// Unmaps `region`; returns the number of bytes the kernel reports unmapped.
  @discardableResult
  public func unmap(_ region: DMARegion) throws(VFIOError) -> UInt64 {
    let unmapped = try unmap(iova: region.iova, size: region.size, all: false)
    // The kernel refuses a second map of the same IOVA, so a region is in the list at most once;
    // searched from the end, a map-then-unmap loop finds it first (no closure, no reallocation).
    updateRegions { list in if let i = list.lastIndex(of: region) { list.remove(at: i) } }
    return unmapped
  }

  /// Unmaps everything (`VFIO_DMA_UNMAP_FLAG_ALL`, or the whole IOVA space with iommufd);
  /// returns the number of bytes unmapped.
  @discardableResult
  public func unmapAll() throws(VFIOError) -> UInt64 {
    let unmapped = try unmap(iova: 0, size: 0, all: true)
    regions = []
    return unmapped
  }

  private func unmap(iova: UInt64, size: UInt64, all: Bool) throws(VFIOError) -> UInt64 {
    let fd = try fd()
    // Only for the error message: built on failure (in the autoclosures below), never on the
    // hot path (formatting it on every unmap cost a heap allocation per call).
    func what() -> String { all ? "all" : "iova 0x\(String(iova, radix: 16)), size 0x\(String(size, radix: 16))" }
    if usesIOMMUFD {
      var u = iommu_ioas_unmap()
      u.size = UInt32(MemoryLayout<iommu_ioas_unmap>.size)
      u.ioas_id = ioasID
      u.iova = all ? 0 : iova
      u.length = all ? UInt64.max : size
      _ = try fd.ioctl(IOMMUFD.IOAS_UNMAP, &u).get("ioctl(IOMMU_IOAS_UNMAP, \(what()))", device: label)
      return u.length
    } else {
      var u = vfio_iommu_type1_dma_unmap()
      u.argsz = UInt32(MemoryLayout<vfio_iommu_type1_dma_unmap>.size)
      u.flags = all ? VFIO.DMA_UNMAP_FLAG_ALL : 0
      u.iova = iova
      u.size = size
      _ = try fd.ioctl(VFIO.IOMMU_UNMAP_DMA, &u).get("ioctl(VFIO_IOMMU_UNMAP_DMA, \(what()))", device: label)
      return u.size
    }
  }

  /// The IOVA a host address is mapped at, from the regions mapped through this object.
  public func iova(forHostAddress vaddr: UInt) -> UInt64? {
    for r in regions where vaddr >= r.vaddr && UInt64(vaddr - r.vaddr) < r.size {
      return r.iova + UInt64(vaddr - r.vaddr)
    }
    return nil
  }

  // MARK: IOVA ranges

  /// The usable IOVA ranges, sorted and validated (`iommu_iova_ranges`). In container modes the
  /// container must already have an IOMMU set, i.e. a device has been initialized.
  public func iovaRanges() throws(VFIOError) -> [IOVARange] {
    let ranges = usesIOMMUFD ? try iommufdIOVARanges() : try type1IOVARanges()
    for (i, r) in ranges.enumerated() {
      guard r.start < r.last, i == 0 || ranges[i - 1].last < r.start else {
        throw .unexpected(operation: "iova ranges", device: label, detail: "ranges not sorted and disjoint: \(ranges)")
      }
    }
    return ranges
  }

  private func iommufdIOVARanges() throws(VFIOError) -> [IOVARange] {
    let fd = try fd()
    var q = iommu_ioas_iova_ranges()
    q.size = UInt32(MemoryLayout<iommu_ioas_iova_ranges>.size)
    q.ioas_id = ioasID
    q.num_iovas = 0
    // The first call must fail with EMSGSIZE and say how many ranges there are.
    switch fd.ioctl(IOMMUFD.IOAS_IOVA_RANGES, &q) {
    case .failure(.messageTooLong): break
    case .failure(let e): throw .syscall(operation: "ioctl(IOMMU_IOAS_IOVA_RANGES)", device: label, errno: e)
    case .success: throw .unexpected(operation: "ioctl(IOMMU_IOAS_IOVA_RANGES)", device: label, detail: "succeeded with num_iovas 0, expected EMSGSIZE")
    }
    guard q.num_iovas > 0 else {
      throw .unexpected(operation: "ioctl(IOMMU_IOAS_IOVA_RANGES)", device: label, detail: "no IOVA ranges")
    }
    let stride = MemoryLayout<iommu_iova_range>.stride
    let buf = IoctlBuffer(byteCount: Int(q.num_iovas) * stride)
    q.allowed_iovas = buf.userPointer
    _ = try fd.ioctl(IOMMUFD.IOAS_IOVA_RANGES, &q).get("ioctl(IOMMU_IOAS_IOVA_RANGES)", device: label)
    return (0..<Int(q.num_iovas)).map { i in
      let r = buf.load(fromByteOffset: i * stride, as: iommu_iova_range.self)
      return IOVARange(start: r.start, last: r.last)
    }.sorted { $0.start < $1.start }
  }

  private func type1IOVARanges() throws(VFIOError) -> [IOVARange] {
    let fd = try fd()
    let headerSize = MemoryLayout<vfio_iommu_type1_info>.size
    var buf = IoctlBuffer(byteCount: headerSize)
    buf.store(UInt32(headerSize), toByteOffset: 0)
    _ = try buf.ioctl(fd, VFIO.IOMMU_GET_INFO).get("ioctl(VFIO_IOMMU_GET_INFO)", device: label)
    let wanted = Int(buf.load(as: vfio_iommu_type1_info.self).argsz)
    if wanted > buf.count {
      buf.resize(to: wanted)
      buf.store(UInt32(wanted), toByteOffset: 0)
      _ = try buf.ioctl(fd, VFIO.IOMMU_GET_INFO).get("ioctl(VFIO_IOMMU_GET_INFO)", device: label)
    }
    let info = buf.load(as: vfio_iommu_type1_info.self)
    guard info.flags & VFIO.IOMMU_INFO_CAPS != 0 else {
      throw .unexpected(operation: "ioctl(VFIO_IOMMU_GET_INFO)", device: label, detail: "no capability chain (flags 0x\(String(info.flags, radix: 16)))")
    }
    guard let offset = try findCapability(in: buf, first: Int(info.cap_offset), headerSize: headerSize, id: VFIO.IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, operation: "VFIO_IOMMU_GET_INFO")
    else {
      throw .unexpected(operation: "ioctl(VFIO_IOMMU_GET_INFO)", device: label, detail: "no VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE capability")
    }
    let cap = buf.load(fromByteOffset: offset, as: vfio_iommu_type1_info_cap_iova_range.self)
    guard cap.nr_iovas > 0 else {
      throw .unexpected(operation: "ioctl(VFIO_IOMMU_GET_INFO)", device: label, detail: "IOVA range capability with nr_iovas 0")
    }
    let first = offset + MemoryLayout<vfio_iommu_type1_info_cap_iova_range>.size
    let stride = MemoryLayout<vfio_iova_range>.stride
    guard first + Int(cap.nr_iovas) * stride <= buf.count else {
      throw .unexpected(operation: "ioctl(VFIO_IOMMU_GET_INFO)", device: label, detail: "IOVA ranges run past argsz")
    }
    return (0..<Int(cap.nr_iovas)).map { i in
      let r = buf.load(fromByteOffset: first + i * stride, as: vfio_iova_range.self)
      return IOVARange(start: r.start, last: r.end)
    }.sorted { $0.start < $1.start }
  }

  /// Walks a VFIO capability chain, bounds-checking every offset and refusing cycles.
  private func findCapability(in buf: borrowing IoctlBuffer, first: Int, headerSize: Int, id: UInt16, operation: String) throws(VFIOError) -> Int? {
    let capHeader = MemoryLayout<vfio_info_cap_header>.size
    let maxDepth = max(0, (buf.count - headerSize) / capHeader)
    var offset = first
    var depth = 0
    while offset != 0 {
      guard offset >= headerSize, offset + capHeader <= buf.count, depth <= maxDepth else {
        throw .unexpected(operation: "ioctl(\(operation))", device: label, detail: "capability chain offset \(offset) out of bounds or cyclic")
      }
      let h = buf.load(fromByteOffset: offset, as: vfio_info_cap_header.self)
      if h.id == id { return offset }
      offset = Int(h.next)
      depth += 1
    }
    return nil
  }
}

extension String {
  /// `String + String` of a `String` made from the rest: `replacement + dropFirst(n)` (a
  /// `Substring`) went through the standard library's unspecialized generic
  /// `append(contentsOf:)`, whose first call in a process looks its `Element` type up by mangled
  /// name: 0.4 ms of every container mode's first IOMMU init under TCG (docs/benchmark.md).
  func replacingPrefix(_ prefix: String, with replacement: String) -> String {
    hasPrefix(prefix) ? replacement + String(dropFirst(prefix.count)) : self
  }
}
