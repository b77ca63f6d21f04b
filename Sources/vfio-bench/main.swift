// SPDX-License-Identifier: GPL-2.0-only
// vfio-bench: the Swift twin of scripts/bench/bench.c. Times the same operations, the same
// number of times, through the port's public API (LibVFIO, LibLiveUpdate), and prints the same
// lines. See scripts/bench.sh, which runs both in one guest and compares them.
//
// Usage: vfio-bench [-d BDF] [-D BDF] [-E BDF] [-s DIVISOR] [-n ROUNDS] [-f NAME] [-l]
//   -d BDF       device bound to vfio-pci (default $VFIO_SELFTESTS_BDF, else 0000:00:03.0)
//   -D BDF       a device with a selftest DMA driver (igb), for driver_memcpy_64b and
//                driver_memcpy_max (default $BENCH_DRIVER_BDF; unset: those two skip)
//   -E BDF       QEMU's edu device, for driver_memcpy_64b_edu and driver_memcpy_max_edu
//                (default $BENCH_EDU_BDF; unset: those two skip), through LibVFIO's EDU driver
//   -s DIVISOR   divide every round count by DIVISOR (20 for a CI smoke run); at least 5 rounds
//                (the edu operations, whose round is ~200 ms of QEMU's clock: 3 rounds, 1 with
//                a divisor)
//   -n ROUNDS    exactly ROUNDS rounds for every operation (a batch of scripts/guest/bench.sh's
//                interleaved runs); first_init: always 1
//   -f NAME      only operation NAME; when no operation has that name, those containing it
//   -l           list the operations' names and their default round counts, run nothing
//   -P PREFIX    luo_retrieve_memfd's session names; with -p A (stage 1: preserve them for A
//                alternations, or with -q K for alternation K alone, and hold them until the
//                kexec), -a K (stage 2: time alternation K)
//                or -c A (stage 2: retrieve and finish those left), as bench.c
//   -x           diagnostics: also the "_raw" twins of the iommufd map and config-read
//                operations, which make the same system calls through LibVFIO's syscall layer
//                alone (`FileDescriptor.ioctl`, `readValue`: no typed API above it), to tell the
//                port's cost from the process's; and the igb memcpy without VFIOPCIDriver's
//                checks: through the ops protocol ("_ops") and on the concrete IGBDriver ("_igb");
//                and luo_retrieve_memfd's system calls with no session object ("_raw"). BENCH_PAGEMAP=1: after a map operation's warm-up round, prints how
//                many physically contiguous runs the buffer is made of (as bench.c does).
// Output, one line per operation: op<TAB>rounds<TAB>min_ns<TAB>median_ns<TAB>max_ns
// or, when the operation cannot run here: op<TAB>SKIP<TAB>reason
// (run_one_test prints a second line, run_one_test_to_ktap, from the same rounds: see runOneTest.)
// Each round is timed alone with clock_gettime(CLOCK_MONOTONIC) after one untimed warm-up round,
// except first_init:MODE, whose one round is the first device init of the process: it is the
// process's first operation only when run alone (-f first_init:MODE), as scripts/guest/bench.sh does.
import CVFIOShim
import LibLiveUpdate
import LibVFIO
import SystemPackage

/// The bench's clock, as bench.c's `now_ns`: the C shim's inline clock_gettime, no call of its own.
@inline(__always) func nowNS() -> UInt64 { vst_monotonic_ns() }

func eprint(_ text: String) {
  _ = try? FileDescriptor.standardError.writeAll(text.utf8)
}

struct Skip: Error { let reason: String }

enum Kind {
  case initCleanup, firstInit, map(size: Int), configRead, luo, rawMap(size: Int), rawConfigRead
  /// `via`: .library (VFIOPCIDriver.memcpy, as C's vfio_pci_driver_memcpy), or for -x the
  /// driver's own start + wait through the ops protocol (.ops) or on the concrete IGBDriver (.igb).
  /// `edu`: on QEMU's edu device (-E) instead of the igb (-D).
  case memcpy(size: Int, via: MemcpyPath, edu: Bool = false)
  /// `raw` (-x): the same system calls with no session object, through LibVFIO's syscall layer.
  case runOneTest, luoRetrieve(raw: Bool), initFromFD
}

enum MemcpyPath { case library, ops, igb }

struct Op {
  let name: String
  let kind: Kind
  let mode: IOMMUMode
  let rounds: Int
}

/// Runs `body` rounds + 1 times (the first untimed, unless `warmUp` is false) and returns the
/// per-round times.
func timed(_ rounds: Int, warmUp: Bool = true, _ body: () throws -> Void) rethrows -> [UInt64] {
  var t = [UInt64](repeating: 0, count: rounds)
  for i in (warmUp ? -1 : 0)..<rounds {
    let t0 = nowNS()
    try body()
    if i >= 0 { t[i] = nowNS() &- t0 }
  }
  return t
}

/// BENCH_PAGEMAP=1: the number of physically contiguous runs of [vaddr, vaddr + size).
func pagemapReport(_ name: String, _ vaddr: UInt, _ size: Int) {
  guard Syscalls.environment(prefix: "BENCH_PAGEMAP")["BENCH_PAGEMAP"] != nil else { return }
  guard case .success(let fd) = openFile("/proc/self/pagemap", .readOnly) else { return }
  defer { try? fd.close() }
  var prev: UInt64 = 0, runs = 0
  let pages = size / 4096
  for i in 0..<pages {
    let va = vaddr + UInt(i * 4096)
    guard case .success(let read) = fd.readValue(UInt64.self, atAbsoluteOffset: Int64(va / 4096 * 8)), read.count == 8 else { break }
    var e = read.value
    e &= (1 << 55) - 1
    if i == 0 || e != prev &+ 1 { runs += 1 }
    prev = e
  }
  eprint("pagemap \(name): \(pages) pages in \(runs) physically contiguous runs\n")
}

/// An iommu in `mode` with the device attached, an IOVA allocator over its ranges and `size` bytes
/// of anonymous memory (what the map operations time over), released after `body`.
func withMapSetup<T>(_ mode: IOMMUMode, _ address: PCIAddress, size: Int,
                     _ body: (IOMMU, inout IOVAAllocator, MappedMemory) throws -> T) throws -> T {
  let iommu = try IOMMU(mode: mode)
  defer { iommu.close() }
  let device = try VFIOPCIDevice(address: address, iommu: iommu)
  defer { device.close() }
  var allocator = IOVAAllocator(ranges: try iommu.iovaRanges())
  let memory = try MappedMemory.anonymousResult(size: size).get()
  defer { memory.unmap() }
  return try body(iommu, &allocator, memory)
}

/// The directory of this executable (/proc/self/exe resolved: a symlink to it counts as it).
func executableDirectory() -> String? {
  guard case .success(let path) = FileSystem.readLink("/proc/self/exe"), let slash = path.lastIndex(of: "/") else { return nil }
  return String(path[..<slash])
}

/// run_one_test's second line (`run_one_test_to_ktap`): per round, launch to the KTAP result line.
nonisolated(unsafe) var runOneTestToKTAP: [UInt64] = []

/// run_one_test (bench.c's twin): `vfio-selftests run` of the one test bench.c runs in C
/// (vfio_pci_device_test.config_space_read_write, iommufd mode), as a user runs it:
/// `<dir>/vfio-selftests run --iommu-mode iommufd --filter VFIOPCIDeviceSuite/config_space_read_write --ktap - BDF`,
/// <dir> being `run/` beside this executable when it holds one (scripts/bench.sh puts the
/// release build there with its test binary), else this executable's own directory (a build dir,
/// where the test binary sits beside the CLI). A round is posix_spawn() to waitpid(); the KTAP
/// time is to the first top-level "ok "/"not ok " line read from its stdout (a pipe).
func runOneTest(_ op: Op, address: PCIAddress) throws -> [UInt64] {
  guard let dir = executableDirectory() else { throw Skip(reason: "readlink(/proc/self/exe) failed") }
  let cliDir = FileSystem.exists("\(dir)/run/vfio-selftests") ? "\(dir)/run" : dir
  let cli = "\(cliDir)/vfio-selftests"
  guard FileSystem.exists(cli), FileSystem.exists("\(cliDir)/vfio-selftestsPackageTests.xctest") else {
    throw Skip(reason: "no vfio-selftests with vfio-selftestsPackageTests.xctest beside it in \(cliDir) (scripts/bench.sh puts them in run/)")
  }
  let argv = [cli, "run", "--iommu-mode", "iommufd", "--filter", "VFIOPCIDeviceSuite/config_space_read_write", "--ktap", "-", address.description]
  runOneTestToKTAP = [UInt64](repeating: 0, count: op.rounds)
  var t = [UInt64](repeating: 0, count: op.rounds)
  let ok = Array("ok ".utf8), notOK = Array("not ok ".utf8)
  for i in -1..<op.rounds {
    let t0 = nowNS()
    let (pid, out): (Int32, FileDescriptor)
    switch Syscalls.spawnWithStdoutPipe(argv) {
    case .success(let child): (pid, out) = child
    case .failure(let e): throw Skip(reason: "posix_spawn(\(cli)): errno \(e.rawValue)")
    }
    var line: [UInt8] = [], result: String?, tLine: UInt64 = 0
    while case .success(let bytes) = out.readBytes(maxCount: 8192), !bytes.isEmpty {
      for b in bytes {
        if b != UInt8(ascii: "\n") { if line.count < 512 { line.append(b) }; continue }
        if result == nil, line.starts(with: ok) || line.starts(with: notOK) {
          tLine = nowNS() &- t0
          result = String(decoding: line, as: UTF8.self)
        }
        line.removeAll(keepingCapacity: true)
      }
    }
    try? out.close()
    let status = Syscalls.waitStatus(pid)
    if i >= 0 { t[i] = nowNS() &- t0; runOneTestToKTAP[i] = tLine }
    guard let result, result.hasPrefix("ok "), case .success(0) = status else {
      throw Skip(reason: "vfio-selftests run: \(result ?? "no KTAP result line"), wait status \(status)")
    }
  }
  return t
}

/// luo_retrieve_memfd (bench.c's twin, same modes and names): -p A -P PREFIX preserves sessions
/// PREFIX-K-I (K in 1..A, I in 0...rounds), each with one memfd (token 1) holding its name, and
/// hands them to a `LiveUpdateHolder` until the kexec; -a K times, per round, retrieve session +
/// `Memfd.restore(expecting:)` + close + finish + close; -c A retrieves and finishes those left.
let luoRetrieveSkip = "needs the sessions a stage-1 run preserved before a kexec (scripts/guest/bench.sh in a two-stage boot)"
nonisolated(unsafe) var luoPrefix: String?
nonisolated(unsafe) var luoPrepareAlternations = 0, luoPrepareOnly = 0, luoAlternation = 1, luoDrainAlternations = 0

func luoName(_ k: Int, _ i: Int) -> String { "\(luoPrefix!)-\(k)-\(i)" }

func luoDevice() throws -> LiveUpdateDevice {
  guard FileSystem.exists(LiveUpdate.devicePath) else {
    throw Skip(reason: "no \(LiveUpdate.devicePath) (kernel without LUO, or booted without liveupdate=on)")
  }
  return try LiveUpdateDevice()
}

/// Retrieves the memfd of a retrieved session, checks its contents, closes it, finishes and closes the session.
@inline(__always) func luoFinish(_ session: LiveUpdateSession, _ name: String) throws {
  let fd = try Memfd.restore(from: session, token: 1, expecting: name)
  try fd.close()
  try session.finish()
  session.close()
}

/// luo_retrieve_memfd_raw (-x): a round of luo_retrieve_memfd's system calls (RETRIEVE_SESSION,
/// RETRIEVE_FD, mmap + compare + munmap, close, FINISH, close) made straight through LibVFIO's
/// syscall layer (`FileDescriptor.ioctl`, `MappedMemory.sharedCStringMismatchResult`) with no
/// `LiveUpdateSession`, to tell the port's cost from the process's.
func luoRetrieveRaw(_ op: Op, _ luo: FileDescriptor) throws -> [UInt64] {
  let page = MappedMemory.pageSize
  var t = [UInt64](repeating: 0, count: op.rounds)
  for i in -1..<op.rounds {
    let name = luoName(luoAlternation, i + 1)
    // The name field's 64 bytes hold at most 63 and the NUL, as LibLiveUpdate checks.
    guard name.utf8.count <= LiveUpdate.maxSessionNameLength else { throw Skip(reason: "session name \(name) longer than \(LiveUpdate.maxSessionNameLength) bytes") }
    let t0 = nowNS()
    var s = liveupdate_ioctl_retrieve_session()
    s.size = UInt32(MemoryLayout<liveupdate_ioctl_retrieve_session>.size)
    var f = liveupdate_session_retrieve_fd()
    f.size = UInt32(MemoryLayout<liveupdate_session_retrieve_fd>.size)
    f.token = 1
    var e = liveupdate_session_finish()
    e.size = UInt32(MemoryLayout<liveupdate_session_finish>.size)
    var n = name
    n.withUTF8 { utf8 in withUnsafeMutableBytes(of: &s.name) { $0.copyMemory(from: UnsafeRawBufferPointer(utf8)) } }
    guard case .success = luo.ioctl(LiveUpdateUAPI.RETRIEVE_SESSION, &s) else { throw Skip(reason: "raw RETRIEVE_SESSION(\(name)) failed") }
    let session = FileDescriptor(rawValue: s.fd)
    guard case .success = session.ioctl(LiveUpdateUAPI.SESSION_RETRIEVE_FD, &f) else { throw Skip(reason: "raw SESSION_RETRIEVE_FD(\(name)) failed") }
    let memfd = FileDescriptor(rawValue: f.fd)
    guard case .success(nil) = MappedMemory.sharedCStringMismatchResult(memfd, size: page, expecting: name) else { throw Skip(reason: "raw memfd check (\(name)) failed") }
    try memfd.close()
    guard case .success = session.ioctl(LiveUpdateUAPI.SESSION_FINISH, &e) else { throw Skip(reason: "raw SESSION_FINISH(\(name)) failed") }
    try session.close()
    if i >= 0 { t[i] = nowNS() &- t0 }
  }
  return t
}

func luoPrepare(_ op: Op) throws {
  let alternations = luoPrepareOnly > 0 ? luoPrepareOnly...luoPrepareOnly : 1...luoPrepareAlternations
  let count = alternations.count * (op.rounds + 1)
  if case .failure(let e) = ensureNoFileLimitResult(count) { throw Skip(reason: "RLIMIT_NOFILE for \(count) sessions: errno \(e.rawValue)") }
  let luo = try luoDevice()
  var sessions: [LiveUpdateSession] = []
  sessions.reserveCapacity(count)
  for k in alternations {
    for i in 0...op.rounds {
      let name = luoName(k, i)
      let session = try luo.createSession(name)
      try Memfd.preserve(name, in: session, token: 1)
      sessions.append(session)
    }
  }
  luo.close()
  eprint("\(luoPrefix!): \(count) sessions preserved\n")
  // One holder per alternation with -q (each alternation's sessions are preserved by a run of
  // their own), named for it: a holder refuses to start beside a running one of the same name.
  try LiveUpdateHolder().hold(sessions, name: "vfio-bench-\(luoPrefix!)" + (luoPrepareOnly > 0 ? "-\(luoPrepareOnly)" : ""))
}

func luoDrain(_ op: Op) throws {
  let luo = try luoDevice()
  defer { luo.close() }
  var n = 0
  for k in 1...luoDrainAlternations {
    for i in 0...op.rounds {
      let name = luoName(k, i)
      switch luo.retrieveSessionResult(name) {
      case .success(let session): try luoFinish(session, name); n += 1
      case .failure(.syscall(_, _, .noSuchFileOrDirectory)): continue
      case .failure(let e): throw e
      }
    }
  }
  eprint("\(luoPrefix!): \(n) sessions left over, retrieved and finished\n")
}

func run(_ op: Op, address: PCIAddress) throws -> [UInt64] {
  switch op.kind {
  case .luoRetrieve(let raw):
    guard luoPrefix != nil else { throw Skip(reason: luoRetrieveSkip) }
    let luo = try luoDevice()
    defer { luo.close() }
    if raw { return try luoRetrieveRaw(op, luo.fd!) }
    // The name is made before the clock starts, as bench.c's luo_name() is.
    var t = [UInt64](repeating: 0, count: op.rounds)
    for i in -1..<op.rounds {
      let name = luoName(luoAlternation, i + 1)
      let t0 = nowNS()
      let session = try luo.retrieveSession(name)
      try luoFinish(session, name)
      if i >= 0 { t[i] = nowNS() &- t0 }
    }
    return t
  case .runOneTest:
    return try runOneTest(op, address: address)
  case .initCleanup, .firstInit:
    var warmUp = true
    if case .firstInit = op.kind { warmUp = false }
    return try timed(op.rounds, warmUp: warmUp) {
      let iommu = try IOMMU(mode: op.mode)
      let device = try VFIOPCIDevice(address: address, iommu: iommu)
      device.close()
      iommu.close()
    }
  case .initFromFD:
    // bench.c's run_init_from_fd: the cdev opened before each round (untimed), then IOMMU +
    // VFIOPCIDevice(address:iommu:deviceFD:) (the series' __vfio_pci_device_init) + close.
    guard let path = try PCISysfs().vfioCdevPath(address) else { throw Skip(reason: "no VFIO cdev for \(address)") }
    var t = [UInt64](repeating: 0, count: op.rounds)
    for i in -1..<op.rounds {
      let fd = try openFile(path, .readWrite).get()
      let t0 = nowNS()
      let iommu = try IOMMU(mode: op.mode)
      let device = try VFIOPCIDevice(address: address, iommu: iommu, deviceFD: fd)
      device.close()
      iommu.close()
      if i >= 0 { t[i] = nowNS() &- t0 }
    }
    return t
  case .map(let size):
    return try withMapSetup(op.mode, address, size: size) { iommu, allocator, memory in
      let region = DMARegion(vaddr: memory.address, iova: try allocator.allocate(size: UInt64(size)), size: UInt64(size))
      var first = true
      return try timed(op.rounds) {
        try iommu.map(region)
        try iommu.unmap(region)
        if first { first = false; pagemapReport(op.name, region.vaddr, size) }
      }
    }
  case .rawMap(let size):
    return try withMapSetup(.iommufd, address, size: size) { iommu, allocator, memory in
      let iova = try allocator.allocate(size: UInt64(size))
      let fd = iommu.iommufd!, ioas = iommu.ioasID
      var m = iommu_ioas_map()
      m.size = UInt32(MemoryLayout<iommu_ioas_map>.size)
      m.flags = IOMMUFD.IOAS_MAP_FIXED_IOVA | IOMMUFD.IOAS_MAP_WRITEABLE | IOMMUFD.IOAS_MAP_READABLE
      m.ioas_id = ioas
      m.user_va = UInt64(memory.address)
      m.length = UInt64(size)
      var u = iommu_ioas_unmap()
      u.size = UInt32(MemoryLayout<iommu_ioas_unmap>.size)
      u.ioas_id = ioas
      return try timed(op.rounds) {
        m.iova = iova
        u.iova = iova
        u.length = UInt64(size)
        if case .failure(let e) = fd.ioctl(IOMMUFD.IOAS_MAP, &m) { throw Skip(reason: "raw ioctl(IOMMU_IOAS_MAP) failed: errno \(e.rawValue)") }
        if case .failure(let e) = fd.ioctl(IOMMUFD.IOAS_UNMAP, &u) { throw Skip(reason: "raw ioctl(IOMMU_IOAS_UNMAP) failed: errno \(e.rawValue)") }
      }
    }
  case .rawConfigRead:
    let iommu = try IOMMU(mode: .iommufd)
    defer { iommu.close() }
    let device = try VFIOPCIDevice(address: address, iommu: iommu)
    defer { device.close() }
    let fd = device.fd, offset = Int64(device.configSpace.offset)
    var vendor: UInt16 = 0
    let t = try timed(op.rounds) {
      switch fd.readValue(UInt16.self, atAbsoluteOffset: offset) {
      case .success(let r) where r.count == 2: vendor = r.value
      case .success(let r): throw Skip(reason: "pread: \(r.count) bytes")
      case .failure(let e): throw Skip(reason: "pread: errno \(e.rawValue)")
      }
    }
    guard vendor != 0xffff else { throw Skip(reason: "config space reads 0xffff") }
    return t
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
  case .memcpy(let size, let via, let edu):
    // As bench.c's run_memcpy (vfio_pci_driver_test's set-up): a 2 MiB driver region and 2 MiB of
    // MAP_SHARED anonymous memory; one memcpy (start + wait) from its first half to its second.
    // On edu, the IOVAs come from below its 28-bit DMA mask (the allocator takes the driver's).
    let target: PCIAddress
    if edu {
      guard let eduAddress else {
        throw Skip(reason: "no edu device (-E BDF or BENCH_EDU_BDF: scripts/bench.sh boots QEMU's edu at 0000:00:04.0)")
      }
      target = eduAddress
    } else {
      guard let driverAddress else {
        throw Skip(reason: "no DMA-capable device (-D BDF or BENCH_DRIVER_BDF: scripts/bench.sh boots an igb at 0000:00:06.0)")
      }
      target = driverAddress
    }
    let iommu = try IOMMU(mode: op.mode)
    defer { iommu.close() }
    let device = try VFIOPCIDevice(address: target, iommu: iommu)
    defer { device.close() }
    guard let driver = VFIOPCIDriver.probe(device) else { throw Skip(reason: "No driver found for \(target)") }
    if edu, driver.ops.name != EDU.name {
      throw Skip(reason: "the driver found for \(target) is \(driver.ops.name), not edu")
    }
    var allocator = IOVAAllocator(ranges: try iommu.iovaRanges(), dmaMask: driver.ops.dmaMask)
    let regionSize = 2 << 20
    let memory = try MappedMemory.anonymousSharedResult(size: regionSize).get()
    defer { memory.unmap() }
    let mem = DMARegion(vaddr: memory.address, iova: try allocator.allocate(size: UInt64(regionSize)), size: UInt64(regionSize))
    try iommu.map(mem)
    defer { _ = try? iommu.unmap(mem) }
    let driverMemory = try MappedMemory.anonymousSharedResult(size: regionSize).get()
    defer { driverMemory.unmap() }
    let driverDMA = DMARegion(vaddr: driverMemory.address, iova: try allocator.allocate(size: UInt64(regionSize)), size: UInt64(regionSize))
    try iommu.map(driverDMA)
    defer { _ = try? iommu.unmap(driverDMA) }
    try driver.initialize(region: VFIOPCIDriverRegion(memory: driverMemory, iova: driverDMA.iova))
    defer { try? driver.remove() }
    let bytes = UInt64(size == 0 ? Int(driver.maxMemcpySize) : size)
    guard bytes <= UInt64(regionSize / 2) else { throw Skip(reason: "memcpy of \(bytes) bytes exceeds half the 2 MiB region") }
    memory.fill(0xa5, count: Int(bytes))
    let src = mem.iova, dst = mem.iova + UInt64(regionSize / 2)
    let t: [UInt64]
    switch via {
    case .library:
      t = try timed(op.rounds) {
        let r = try driver.memcpy(src: src, dst: dst, size: bytes)
        if r != 0 { throw Skip(reason: "vfio_pci_driver_memcpy returned \(r)") }
      }
    case .ops:
      guard let d = driver.instance, bytes <= d.maxMemcpySize else { throw Skip(reason: "no driver instance, or one chunk too small") }
      t = try timed(op.rounds) {
        try d.memcpyStart(src: src, dst: dst, size: bytes, count: 1)
        let r = try d.memcpyWait()
        if r != 0 { throw Skip(reason: "memcpy_wait returned \(r)") }
      }
    case .igb:
      guard let d = driver.instance as? IGBDriver, bytes <= d.maxMemcpySize else { throw Skip(reason: "not an igb, or one chunk too small") }
      t = try timed(op.rounds) {
        try d.memcpyStart(src: src, dst: dst, size: bytes, count: 1)
        let r = try d.memcpyWait()
        if r != 0 { throw Skip(reason: "memcpy_wait returned \(r)") }
      }
    }
    guard memory.bytes(count: Int(bytes)) == memory.bytes(at: regionSize / 2, count: Int(bytes)) else {
      throw Skip(reason: "memcpy: the destination differs from the source")
    }
    return t
  case .luo:
    guard FileSystem.exists(LiveUpdate.devicePath) else {
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

var bdf: String
do {
  bdf = try SelftestsEnvironment.current.address(.bdf)?.description ?? "0000:00:03.0"
} catch {
  eprint("vfio-bench: \(error.description)\n")
  Syscalls.exit(2)
}
var driverBDF: String? = Syscalls.environment(prefix: "BENCH_DRIVER_BDF")["BENCH_DRIVER_BDF"].flatMap { $0.isEmpty ? nil : $0 }
var eduBDF: String? = Syscalls.environment(prefix: "BENCH_EDU_BDF")["BENCH_EDU_BDF"].flatMap { $0.isEmpty ? nil : $0 }
var divisor = 1
var exactRounds = 0
var list = false
var filter: String?
var diagnostics = false
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
  switch a {
  case "-d": bdf = args.popFirst() ?? bdf
  case "-D": driverBDF = args.popFirst()
  case "-E": eduBDF = args.popFirst()
  case "-s": divisor = max(1, Int(args.popFirst() ?? "1") ?? 1)
  case "-n": exactRounds = max(0, Int(args.popFirst() ?? "0") ?? 0)
  case "-l": list = true
  case "-f": filter = args.popFirst()
  case "-x": diagnostics = true
  case "-P": luoPrefix = args.popFirst()
  case "-p": luoPrepareAlternations = Int(args.popFirst() ?? "0") ?? 0
  case "-q": luoPrepareOnly = Int(args.popFirst() ?? "0") ?? 0
  case "-a": luoAlternation = Int(args.popFirst() ?? "1") ?? 1
  case "-c": luoDrainAlternations = Int(args.popFirst() ?? "0") ?? 0
  case "-h", "--help":
    print("usage: vfio-bench [-d BDF] [-D BDF] [-E BDF] [-s DIVISOR] [-n ROUNDS] [-f NAME] [-l]")
    Syscalls.exit(0)
  default:
    eprint("vfio-bench: unknown argument \(a)\n")
    Syscalls.exit(2)
  }
}
let scale = divisor
let rounds = { (n: Int) -> Int in exactRounds > 0 ? exactRounds : max(5, n / scale) }
/// The edu memcpy's round is two DMA transfers of ~100 ms of QEMU's clock each: few rounds, 1 for -s.
let eduRounds = { (n: Int) -> Int in exactRounds > 0 ? exactRounds : scale > 1 ? 1 : n }

guard let address = PCIAddress(bdf) else {
  eprint("vfio-bench: bad BDF \(bdf)\n")
  Syscalls.exit(2)
}
let driverAddress = driverBDF.flatMap(PCIAddress.init)
if let driverBDF, driverAddress == nil {
  eprint("vfio-bench: bad BDF \(driverBDF)\n")
  Syscalls.exit(2)
}
let eduAddress = eduBDF.flatMap(PCIAddress.init)
if let eduBDF, eduAddress == nil {
  eprint("vfio-bench: bad BDF \(eduBDF)\n")
  Syscalls.exit(2)
}
let modes = IOMMUMode.allCases
var ops: [Op] = []
for m in modes { ops.append(Op(name: "first_init:\(m.rawValue)", kind: .firstInit, mode: m, rounds: 1)) }
for m in modes { ops.append(Op(name: "init_cleanup:\(m.rawValue)", kind: .initCleanup, mode: m, rounds: rounds(100))) }
ops.append(Op(name: "init_from_fd:iommufd", kind: .initFromFD, mode: .iommufd, rounds: rounds(100)))
for m in modes { ops.append(Op(name: "dma_map_unmap_4k:\(m.rawValue)", kind: .map(size: 4096), mode: m, rounds: rounds(10_000))) }
for m in modes { ops.append(Op(name: "dma_map_unmap_2m:\(m.rawValue)", kind: .map(size: 2 << 20), mode: m, rounds: rounds(1000))) }
ops.append(Op(name: "config_read_vendor:iommufd", kind: .configRead, mode: .iommufd, rounds: rounds(100_000)))
if diagnostics {
  ops.append(Op(name: "dma_map_unmap_4k_raw:iommufd", kind: .rawMap(size: 4096), mode: .iommufd, rounds: rounds(10_000)))
  ops.append(Op(name: "dma_map_unmap_2m_raw:iommufd", kind: .rawMap(size: 2 << 20), mode: .iommufd, rounds: rounds(1000)))
  ops.append(Op(name: "config_read_vendor_raw:iommufd", kind: .rawConfigRead, mode: .iommufd, rounds: rounds(100_000)))
}
ops.append(Op(name: "luo_session_preserve_memfd", kind: .luo, mode: .iommufd, rounds: rounds(1000)))
ops.append(Op(name: "driver_memcpy_64b:iommufd", kind: .memcpy(size: 64, via: .library), mode: .iommufd, rounds: rounds(2000)))
ops.append(Op(name: "driver_memcpy_max:iommufd", kind: .memcpy(size: 0, via: .library), mode: .iommufd, rounds: rounds(2000)))
ops.append(Op(name: "driver_memcpy_64b_edu:iommufd", kind: .memcpy(size: 64, via: .library, edu: true), mode: .iommufd, rounds: eduRounds(3)))
ops.append(Op(name: "driver_memcpy_max_edu:iommufd", kind: .memcpy(size: 0, via: .library, edu: true), mode: .iommufd, rounds: eduRounds(3)))
if diagnostics {
  ops.append(Op(name: "driver_memcpy_64b_ops:iommufd", kind: .memcpy(size: 64, via: .ops), mode: .iommufd, rounds: rounds(2000)))
  ops.append(Op(name: "driver_memcpy_64b_igb:iommufd", kind: .memcpy(size: 64, via: .igb), mode: .iommufd, rounds: rounds(2000)))
}
ops.append(Op(name: "run_one_test", kind: .runOneTest, mode: .iommufd, rounds: rounds(100)))
ops.append(Op(name: "luo_retrieve_memfd", kind: .luoRetrieve(raw: false), mode: .iommufd, rounds: rounds(400)))
if diagnostics {
  ops.append(Op(name: "luo_retrieve_memfd_raw", kind: .luoRetrieve(raw: true), mode: .iommufd, rounds: rounds(400)))
}

if list {
  for op in ops { print("\(op.name)\t\(op.rounds)") }
  Syscalls.exit(0)
}
let exact = ops.contains { $0.name == filter }
for op in ops {
  if let filter, exact ? op.name != filter : !op.name.contains(filter) { continue }
  if case .luoRetrieve = op.kind, luoPrefix != nil, luoPrepareAlternations > 0 || luoDrainAlternations > 0 {
    // Stage 1's preparation or stage 2's drain: no timing, no result line; the exit status.
    do {
      if luoPrepareAlternations > 0 { try luoPrepare(op) } else { try luoDrain(op) }
    } catch {
      eprint("vfio-bench: \(op.name): \(error)\n")
      Syscalls.exit(1)
    }
    continue
  }
  do {
    var t = try run(op, address: address)
    t.sort()
    print("\(op.name)\t\(t.count)\t\(t[0])\t\(t[(t.count - 1) / 2])\t\(t[t.count - 1])")
    if case .runOneTest = op.kind {
      let k = runOneTestToKTAP.sorted()
      print("run_one_test_to_ktap\t\(k.count)\t\(k[0])\t\(k[(k.count - 1) / 2])\t\(k[k.count - 1])")
    }
  } catch let e as Skip {
    print("\(op.name)\tSKIP\t\(e.reason)")
  } catch {
    eprint("vfio-bench: \(op.name): \(error)\n")
    print("\(op.name)\tSKIP\t\(String("\(error)".map { $0 == "\t" || $0 == "\n" ? " " : $0 }))")
  }
  Syscalls.flushOutput()
}

