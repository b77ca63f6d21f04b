// SPDX-License-Identifier: GPL-2.0-only
// The VFIO migration uAPI (include/uapi/linux/vfio.h: VFIO_DEVICE_FEATURE_MIGRATION,
// _MIG_DEVICE_STATE, _MIG_DATA_SIZE, VFIO_MIG_GET_PRECOPY_INFO) on any device that advertises
// migration: the in-kernel mtty sample (two mdev instances) without hardware, xe-vfio-pci VFs
// given in VFIO_SELFTESTS_MIGRATION_BDFS on bare metal. No C selftest exists for it; the oracle
// for every state request is LibVFIO.MigrationFSM, the port of vfio_mig_get_next_state().
import CVFIOShim
import Foundation
import Glibc
import LibVFIO
import Synchronization
import SystemPackage
import Testing

enum VFIOMigrationTest {
  /// Opens device `index` of the fixture in `mode` for `body`, then closes it and its IOMMU.
  static func withMigrationDevice<R>(_ mode: IOMMUMode, _ index: Int = 0, _ body: (VFIOPCIDevice) throws -> R) throws -> R {
    let ids = MigrationFixture.devices
    let id = try #require(ids.isEmpty ? nil : ids[min(index, ids.count - 1)], "no migration device (the trait should have skipped)")
    return try withDevice(mode, id, body)
  }

  static func say(_ device: VFIOPCIDevice, _ message: String) { print("\(device.id): \(message)") }

  /// mtty's serial ports are BAR0 and BAR1 (8-byte I/O BARs of 16550 registers).
  static func isMtty(_ device: VFIOPCIDevice) -> Bool {
    (try? device.configRead(PCIConfig.VENDOR_ID, as: UInt32.self)) == 0x3253_4348
  }

  /// Back to RUNNING: a SET (every supported state has a path to RUNNING), else
  /// VFIO_DEVICE_RESET (which the uAPI says returns the device to RUNNING).
  static func backToRunning(_ device: VFIOPCIDevice) throws {
    if case .success = device.setMigrationStateResult(MigrationState.running.rawValue) { return }
    try device.reset()
    #expect(try device.migrationState() == .running, "VFIO_DEVICE_RESET did not return the device to RUNNING")
  }

  /// The device's STOP_COPY stream, taken from RUNNING and leaving it RUNNING.
  static func stopCopyStream(_ device: VFIOPCIDevice) throws -> [UInt8] {
    try backToRunning(device)
    let file = try #require(try device.setMigrationState(.stopCopy), "RUNNING -> STOP_COPY returned no data fd")
    defer { file.close() }
    let stream = try file.readToEnd()
    #expect(try file.readToEnd().isEmpty, "read after end of stream in STOP_COPY must return 0 again")
    try device.setMigrationState(.running)
    return stream
  }

  // MARK: flags

  static func flags(_ mode: IOMMUMode) throws {
    try withMigrationDevice(mode) { device in
      let flags = try device.migrationFlags()
      say(device, "migration flags 0x\(String(flags.rawValue, radix: 16)) (\(flags))")
      #expect(flags.contains(.stopCopy), "the uAPI requires VFIO_MIGRATION_STOP_COPY")
      // The feature is GET-only: SET fails as vfio_check_feature() says (EINVAL).
      let set = device.featureResult(VFIO.DEVICE_FEATURE_SET | VFIO.DEVICE_FEATURE_MIGRATION, vfio_device_feature_migration())
      #expect(set.errno == .invalidArgument, "SET MIGRATION: \(set)")
      // PROBE of MIG_DEVICE_STATE with GET|SET succeeds.
      let probe = device.featureResult(VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_SET | VFIO.DEVICE_FEATURE_MIG_DEVICE_STATE,
                                 vfio_device_feature_mig_state())
      #expect(probe.errno == nil, "PROBE MIG_DEVICE_STATE: \(probe)")
      try backToRunning(device)
      #expect(try device.migrationState() == .running)
      let size = try device.migrationDataSize()
      say(device, "STOP_COPY data size estimate \(size) bytes")
      #expect(size > 0)
    }
  }

  // MARK: arcs

  struct ArcCount: CustomStringConvertible {
    var direct = 0, multiStep = 0, noOp = 0, rejected = 0
    var total: Int { direct + multiStep + noOp + rejected }
    var description: String { "\(total) arcs verified: \(direct) direct, \(multiStep) multi-step, \(noOp) same-state, \(rejected) rejected with EINVAL" }
  }

  /// Puts the device in `state` from RUNNING; in RESUMING, feeds it `stream` (so that leaving
  /// RESUMING, which loads the state, can succeed).
  static func enter(_ device: VFIOPCIDevice, _ state: MigrationState, stream: [UInt8]) throws {
    try backToRunning(device)
    let file = try device.setMigrationState(state)
    defer { file?.close() }
    if state == .resuming {
      let sink = try #require(file, "STOP -> RESUMING returned no data fd")
      try sink.writeAll(stream)
    }
    try #require(try device.migrationState() == state, "could not enter \(state)")
  }

  /// Every (current, requested) pair over the device's states and every requested value 0...8:
  /// SET resolves as vfio_mig_get_next_state() says, with a data fd exactly when the last arc
  /// opens a session; refused requests fail with EINVAL and leave the state unchanged.
  static func arcs(_ mode: IOMMUMode) throws {
    try withMigrationDevice(mode) { device in
      let flags = try device.migrationFlags()
      let stream = try stopCopyStream(device)
      var count = ArcCount()
      let states = MigrationState.allCases.filter { $0 != .error && MigrationFSM.supports($0, flags) }
      for cur in states {
        for raw in MigrationState.error.rawValue...VFIO.DEVICE_STATE_NR {
          try enter(device, cur, stream: stream)
          let arc = "\(cur) -> \(MigrationState.name(raw))"
          let result = device.setMigrationStateResult(raw)
          if let path = MigrationFSM.path(from: cur, to: raw, flags: flags) {
            let target = MigrationState(rawValue: raw)!
            switch result {
            case .failure(let e):
              Issue.record("\(arc) (path \(path.map(\.description).joined(separator: " -> "))): failed with \(Errno.name(of: e))")
            case .success(let file):
              defer { file?.close() }
              let now = try device.migrationState()
              #expect(now == target, "\(arc): GET says \(now)")
              let wantFD = MigrationFSM.setReturnsDataFD(from: cur, to: target, flags: flags)
              #expect((file != nil) == wantFD, "\(arc): data fd \(file != nil ? "returned" : "not returned"), expected \(wantFD ? "one" : "none")")
              switch path.count {
              case 0: count.noOp += 1
              case 1: count.direct += 1
              default: count.multiStep += 1
              }
            }
          } else {
            if case .success(let file) = result {
              file?.close()
              Issue.record("\(arc): accepted, but vfio_mig_get_next_state() refuses it (EINVAL)")
            } else {
              #expect(result.errno == .invalidArgument, "\(arc): \(result)")
              let now = try device.migrationState()
              #expect(now == cur, "\(arc) refused, but the state moved to \(now)")
              count.rejected += 1
            }
          }
        }
      }
      try backToRunning(device)
      say(device, "flags \(flags): \(count)")
    }
  }

  // MARK: round trip

  /// mtty's observable state: per port (BAR0, BAR1) the scratch register, the line control
  /// register and the bytes waiting in the loopback FIFO.
  struct SerialState: Equatable, CustomStringConvertible {
    var ports: [(scr: UInt8, lcr: UInt8, fifo: [UInt8])]
    static func == (a: Self, b: Self) -> Bool {
      a.ports.count == b.ports.count && zip(a.ports, b.ports).allSatisfy { $0.scr == $1.scr && $0.lcr == $1.lcr && $0.fifo == $1.fifo }
    }
    var description: String {
      ports.enumerated().map { "port\($0): SCR=0x\(hex($1.scr, width: 2)) LCR=0x\(hex($1.lcr, width: 2)) FIFO=\($1.fifo)" }.joined(separator: "; ")
    }
  }

  static let UART_RX: UInt64 = 0, UART_TX: UInt64 = 0, UART_FCR: UInt64 = 2, UART_LCR: UInt64 = 3, UART_LSR: UInt64 = 5, UART_SCR: UInt64 = 7
  static let LSR_DR: UInt8 = 0x01

  static func writeSerial(_ device: VFIOPCIDevice, seed: UInt8) throws {
    for port in 0..<2 {
      let bar = UInt32(port)
      try device.regionWrite(index: bar, offset: UART_FCR, [0x07])  // FIFO on, clear RX/TX
      try device.regionWrite(index: bar, offset: UART_LCR, [0x03 &+ seed])  // 8 data bits, DLAB off
      try device.regionWrite(index: bar, offset: UART_SCR, [seed &+ UInt8(port) &* 0x11])
      for i in 0..<(3 + port) { try device.regionWrite(index: bar, offset: UART_TX, [seed &+ UInt8(0x40 + 8 * port + i)]) }
    }
  }

  /// Reads (and so drains) the serial state.
  static func readSerial(_ device: VFIOPCIDevice) throws -> SerialState {
    var ports: [(scr: UInt8, lcr: UInt8, fifo: [UInt8])] = []
    for port in 0..<2 {
      let bar = UInt32(port)
      let scr = try device.regionRead(index: bar, offset: UART_SCR, count: 1)[0]
      let lcr = try device.regionRead(index: bar, offset: UART_LCR, count: 1)[0]
      var fifo: [UInt8] = []
      while try device.regionRead(index: bar, offset: UART_LSR, count: 1)[0] & LSR_DR != 0, fifo.count <= 16 {
        fifo.append(try device.regionRead(index: bar, offset: UART_RX, count: 1)[0])
      }
      ports.append((scr, lcr, fifo))
    }
    return SerialState(ports: ports)
  }

  /// Device A with observable state -> STOP_COPY (through PRE_COPY with `precopy`), stream read
  /// to EOF; device B -> RESUMING, stream written, -> RUNNING; B's state equals A's.
  static func roundTrip(_ mode: IOMMUMode, precopy: Bool) throws {
    try withMigrationDevice(mode, 0) { a in
      try withMigrationDevice(mode, 1) { b in
        let flags = try a.migrationFlags()
        if precopy && !flags.contains(.preCopy) {
          say(a, "no VFIO_MIGRATION_PRE_COPY: the PRE_COPY round trip is the STOP_COPY one")
        }
        try backToRunning(a)
        try backToRunning(b)
        let mtty = isMtty(a) && isMtty(b) && a.id != b.id
        if mtty {
          try writeSerial(a, seed: 0x10)
          try writeSerial(b, seed: 0x20)  // B starts different, so equality is not a coincidence
        } else {
          say(a, "no observable-state probe for this device: checking the stream is accepted")
        }
        var stream: [UInt8] = []
        if precopy && flags.contains(.preCopy) {
          let file = try #require(try a.setMigrationState(.preCopy), "RUNNING -> PRE_COPY returned no data fd")
          defer { file.close() }
          let first = try file.precopyInfo()
          say(a, "PRE_COPY info: initial_bytes \(first.initial_bytes), dirty_bytes \(first.dirty_bytes)")
          #expect(first.initial_bytes > 0, "initial_bytes should start non-zero")
          var last = first.initial_bytes
          while true {
            let part: [UInt8]
            switch file.readResult(maxCount: 8) {
            case .success(let p): part = p
            case .failure(.noMessage): part = []  // ENOMSG: the temporary end of stream
            case .failure(let e): throw VFIOError.syscall(operation: "read(PRE_COPY data fd)", device: a.id.description, errno: e)
            }
            if part.isEmpty { break }
            stream += part
            let info = try file.precopyInfo()
            if last > 0 {
              #expect(info.initial_bytes < last, "PRE_COPY initial_bytes did not shrink after reading \(part.count) bytes: \(last) -> \(info.initial_bytes)")
            }
            if isMtty(a) {
              #expect(info.initial_bytes == last - min(last, UInt64(part.count)), "mtty: initial_bytes \(last) - \(part.count) read != \(info.initial_bytes)")
            }
            last = info.initial_bytes
          }
          #expect(last == 0, "temporary end of stream with initial_bytes \(last)")
          say(a, "PRE_COPY: read \(stream.count) bytes, info shrank \(first.initial_bytes) -> \(last)")
          let more = try a.setMigrationState(.stopCopy)
          #expect(more == nil, "PRE_COPY -> STOP_COPY continues the session: no new data fd")
          more?.close()
          // PRE_COPY_INFO is only valid in the PRE_COPY states.
          #expect(file.precopyInfoResult().errno == .invalidArgument, "VFIO_MIG_GET_PRECOPY_INFO in STOP_COPY must fail with EINVAL")
          stream += try file.readToEnd()
        } else {
          let file = try #require(try a.setMigrationState(.stopCopy), "RUNNING -> STOP_COPY returned no data fd")
          defer { file.close() }
          stream = try file.readToEnd()
        }
        say(a, "STOP_COPY stream: \(stream.count) bytes")
        #expect(!stream.isEmpty)
        if mtty {
          let estimate = try a.migrationDataSize()
          #expect(UInt64(stream.count) == estimate, "mtty's stream is exactly its MIG_DATA_SIZE (\(estimate))")
        }
        try a.setMigrationState(.running)

        try backToRunning(b)
        let sink = try #require(try b.setMigrationState(.resuming), "RUNNING -> RESUMING returned no data fd")
        try sink.writeAll(stream, chunk: 7)  // odd chunks: the stream is not record-aligned
        sink.close()
        try b.setMigrationState(.running)
        #expect(try b.migrationState() == .running)
        if mtty {
          let stateA = try readSerial(a)
          let stateB = try readSerial(b)
          say(b, "after resume: \(stateB)")
          #expect(stateB == stateA, "B after resume: \(stateB); A: \(stateA)")
          #expect(stateA.ports.allSatisfy { !$0.fifo.isEmpty }, "A's FIFOs were filled before migration")
        }
      }
    }
  }

  // MARK: bad streams

  enum Damage: String, CaseIterable { case truncated, corruptedHeader, oversized }

  /// A damaged stream is refused: by write() or by leaving RESUMING; never accepted silently.
  /// Afterwards VFIO_DEVICE_RESET brings the device back to RUNNING (the uAPI's way to abort).
  static func badStream(_ mode: IOMMUMode) throws {
    try withMigrationDevice(mode, 0) { a in
      try withMigrationDevice(mode, 1) { b in
        let stream = try stopCopyStream(a)
        for damage in Damage.allCases {
          var bad = stream
          switch damage {
          case .truncated: bad.removeLast(max(1, stream.count / 3))
          case .corruptedHeader: bad[0] ^= 0xFF
          case .oversized: bad += [UInt8](repeating: 0xA5, count: 64)
          }
          try backToRunning(b)
          let sink = try #require(try b.setMigrationState(.resuming))
          var errors: [String] = []
          do { try sink.writeAll(bad) } catch { errors.append("write: \(error)") }
          sink.close()
          let leave = b.setMigrationStateResult(MigrationState.running.rawValue)
          if case .failure(let e) = leave { errors.append("RESUMING -> RUNNING: \(Errno.name(of: e))") }
          if case .success(let f) = leave { f?.close() }
          say(b, "\(damage) stream (\(bad.count) of \(stream.count) bytes): \(errors.isEmpty ? "ACCEPTED" : errors.joined(separator: "; "))")
          #expect(!errors.isEmpty, "\(damage) stream accepted silently")
          if case .failure = leave {
            let now = try b.migrationState()
            #expect(now != .running, "\(damage): leaving RESUMING failed but the device says RUNNING")
          }
          try b.reset()
          #expect(try b.migrationState() == .running, "\(damage): VFIO_DEVICE_RESET did not return to RUNNING")
        }
      }
    }
  }
}

extension Result {
  /// The errno of a failed call, nil on success.
  var errno: Errno? {
    if case .failure(let e) = self { return e as? Errno }
    return nil
  }
}

// MARK: the suites: one per device kind, one parameterized test per test over the iommu modes
// (the stress is VFIOMigrationStressTest.swift); `vfio-selftests run` names each case
// `vfio_migration_test.<kind>.<mode>.<test>`, as the per-mode suites were named.

extension VFIOMigrationTest {
  /// The modes the `pci` suite tests (of those under test): the Xe VFs' two, type1v2 and iommufd.
  static func pciModesUnderTest() throws -> [IOMMUMode] {
    try IOMMUMode.underTest().filter(IOMMUMode.pciMigrationModes.contains)
  }

  /// One case: `kind`'s devices usable in `mode` (else a skip, or a failure under
  /// `VFIO_SELFTESTS_STRICT`), made for this case and removed after it, around `body`.
  static func inCase(_ kind: MigrationDeviceKind, _ mode: IOMMUMode, _ body: @escaping @Sendable () throws -> Void) async throws {
    let devices = MigrationDevices(kind: kind, mode: mode)
    try devices.require()
    try await devices.provide { try body() }
  }
}

extension Hardware {
  @Suite("vfio_migration_test.mtty", .tags(.iommuModes), .hangGuard)
  struct VFIOMigrationMtty {
    @Test(arguments: try IOMMUMode.underTest()) func migration_flags(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.mtty, mode) { try VFIOMigrationTest.flags(mode) }
    }
    @Test(arguments: try IOMMUMode.underTest()) func state_arcs(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.mtty, mode) { try VFIOMigrationTest.arcs(mode) }
    }
    @Test(arguments: try IOMMUMode.underTest()) func round_trip_stop_copy(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.mtty, mode) { try VFIOMigrationTest.roundTrip(mode, precopy: false) }
    }
    @Test(arguments: try IOMMUMode.underTest()) func round_trip_pre_copy(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.mtty, mode) { try VFIOMigrationTest.roundTrip(mode, precopy: true) }
    }
    @Test(arguments: try IOMMUMode.underTest()) func bad_stream_rejected(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.mtty, mode) { try VFIOMigrationTest.badStream(mode) }
    }
    @Test(arguments: try IOMMUMode.underTest()) func reset_migration_stress(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.mtty, mode) { try VFIOMigrationTest.stress(mode) }
    }
  }

  /// Xe VFs on xe-vfio-pci from VFIO_SELFTESTS_MIGRATION_BDFS (XeVFCheck refuses any other device;
  /// docs/xe-vfio-pci.md), in type1v2 and iommufd.
  @Suite("vfio_migration_test.pci", .tags(.pciMigrationModes), .hangGuard)
  struct VFIOMigrationPCI {
    @Test(arguments: try VFIOMigrationTest.pciModesUnderTest()) func migration_flags(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.pci, mode) { try VFIOMigrationTest.flags(mode) }
    }
    @Test(arguments: try VFIOMigrationTest.pciModesUnderTest()) func state_arcs(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.pci, mode) { try VFIOMigrationTest.arcs(mode) }
    }
    @Test(arguments: try VFIOMigrationTest.pciModesUnderTest()) func round_trip_stop_copy(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.pci, mode) { try VFIOMigrationTest.roundTrip(mode, precopy: false) }
    }
    @Test(arguments: try VFIOMigrationTest.pciModesUnderTest()) func round_trip_pre_copy(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.pci, mode) { try VFIOMigrationTest.roundTrip(mode, precopy: true) }
    }
    @Test(arguments: try VFIOMigrationTest.pciModesUnderTest()) func bad_stream_rejected(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.pci, mode) { try VFIOMigrationTest.badStream(mode) }
    }
    @Test(arguments: try VFIOMigrationTest.pciModesUnderTest()) func reset_migration_stress(_ mode: IOMMUMode) async throws {
      try await VFIOMigrationTest.inCase(.pci, mode) { try VFIOMigrationTest.stress(mode) }
    }
  }
}
