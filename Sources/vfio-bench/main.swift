// vfio-bench: the Swift twin of scripts/bench/bench.c. Times the same operations, the same
// number of times, through the port's public API (LibVFIO, LibLiveUpdate), and prints the same
// lines. See scripts/bench.sh, which runs both in one guest and compares them.
//
// Usage: vfio-bench [-d BDF] [-s DIVISOR] [-f SUBSTRING]
//   -d BDF       device bound to vfio-pci (default $VFIO_SELFTESTS_BDF, else 0000:00:03.0)
//   -s DIVISOR   divide every round count by DIVISOR (20 for a CI smoke run); at least 5 rounds
//   -f SUBSTR    only the operations whose name contains SUBSTR
// Output, one line per operation: op<TAB>rounds<TAB>min_ns<TAB>median_ns<TAB>max_ns
// or, when the operation cannot run here: op<TAB>SKIP<TAB>reason
// Each round is timed alone with clock_gettime(CLOCK_MONOTONIC) after one untimed warm-up round.
import Glibc
import LibLiveUpdate
import LibVFIO
import SystemPackage

@inline(__always) func nowNS() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func eprint(_ text: String) {
  var text = text
  text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

struct Skip: Error { let reason: String }

enum Kind { case initCleanup, map(size: Int), configRead, luo }

struct Op {
  let name: String
  let kind: Kind
  let mode: IOMMUMode
  let rounds: Int
}

/// Runs `body` rounds + 1 times (the first untimed) and returns the sorted per-round times.
func timed(_ rounds: Int, _ body: () throws -> Void) rethrows -> [UInt64] {
  var t = [UInt64](repeating: 0, count: rounds)
  for i in -1..<rounds {
    let t0 = nowNS()
    try body()
    if i >= 0 { t[i] = nowNS() &- t0 }
  }
  return t
}

func run(_ op: Op, address: PCIAddress) throws -> [UInt64] {
  switch op.kind {
  case .initCleanup:
    return try timed(op.rounds) {
      let iommu = try IOMMU(mode: op.mode)
      let device = try VFIOPCIDevice(address: address, iommu: iommu)
      device.close()
      iommu.close()
    }
  case .map(let size):
    let iommu = try IOMMU(mode: op.mode)
    defer { iommu.close() }
    let device = try VFIOPCIDevice(address: address, iommu: iommu)
    defer { device.close() }
    var allocator = IOVAAllocator(ranges: try iommu.iovaRanges())
    let memory = try MappedMemory.anonymous(size: size).get()
    defer { memory.unmap() }
    let region = DMARegion(vaddr: memory.address, iova: try allocator.allocate(size: UInt64(size)), size: UInt64(size))
    return try timed(op.rounds) {
      try iommu.map(region)
      try iommu.unmap(region)
    }
  case .configRead:
    let iommu = try IOMMU(mode: op.mode)
    defer { iommu.close() }
    let device = try VFIOPCIDevice(address: address, iommu: iommu)
    defer { device.close() }
    var vendor: UInt16 = 0
    let t = try timed(op.rounds) {
      vendor = try device.configRead(0 /* PCI_VENDOR_ID */, as: UInt16.self)
    }
    guard vendor != 0xffff else { throw Skip(reason: "config space reads 0xffff") }
    return t
  case .luo:
    guard access(LiveUpdate.devicePath, F_OK) == 0 else {
      throw Skip(reason: "no \(LiveUpdate.devicePath) (kernel without LUO, or booted without liveupdate=on)")
    }
    let luo = try LiveUpdateDevice()
    defer { luo.close() }
    return try timed(op.rounds) {
      let session = try luo.createSession("vfio-bench")
      try Memfd.preserve("vfio-bench", in: session, token: 1)
      session.close()
    }
  }
}

var bdf = ProcessInfoLite.env("VFIO_SELFTESTS_BDF") ?? "0000:00:03.0"
var divisor = 1
var filter: String?
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
  switch a {
  case "-d": bdf = args.popFirst() ?? bdf
  case "-s": divisor = max(1, Int(args.popFirst() ?? "1") ?? 1)
  case "-f": filter = args.popFirst()
  case "-h", "--help":
    print("usage: vfio-bench [-d BDF] [-s DIVISOR] [-f SUBSTRING]")
    exit(0)
  default:
    eprint("vfio-bench: unknown argument \(a)\n")
    exit(2)
  }
}
let scale = divisor
let rounds = { (n: Int) -> Int in max(5, n / scale) }

guard let address = PCIAddress(bdf) else {
  eprint("vfio-bench: bad BDF \(bdf)\n")
  exit(2)
}
let modes: [IOMMUMode] = [.vfioType1, .vfioType1v2, .iommufdCompatType1, .iommufdCompatType1v2, .iommufd]
var ops: [Op] = []
for m in modes { ops.append(Op(name: "init_cleanup:\(m.rawValue)", kind: .initCleanup, mode: m, rounds: rounds(100))) }
for m in modes { ops.append(Op(name: "dma_map_unmap_4k:\(m.rawValue)", kind: .map(size: 4096), mode: m, rounds: rounds(10_000))) }
for m in modes { ops.append(Op(name: "dma_map_unmap_2m:\(m.rawValue)", kind: .map(size: 2 << 20), mode: m, rounds: rounds(1000))) }
ops.append(Op(name: "config_read_vendor:iommufd", kind: .configRead, mode: .iommufd, rounds: rounds(100_000)))
ops.append(Op(name: "luo_session_preserve_memfd", kind: .luo, mode: .iommufd, rounds: rounds(1000)))

for op in ops {
  if let filter, !op.name.contains(filter) { continue }
  do {
    var t = try run(op, address: address)
    t.sort()
    print("\(op.name)\t\(t.count)\t\(t[0])\t\(t[(t.count - 1) / 2])\t\(t[t.count - 1])")
  } catch let e as Skip {
    print("\(op.name)\tSKIP\t\(e.reason)")
  } catch {
    eprint("vfio-bench: \(op.name): \(error)\n")
    print("\(op.name)\tSKIP\t\(String("\(error)".map { $0 == "\t" || $0 == "\n" ? " " : $0 }))")
  }
  fflush(nil)
}

enum ProcessInfoLite {
  static func env(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    let s = String(cString: v)
    return s.isEmpty ? nil : s
  }
}
