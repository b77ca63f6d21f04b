// SPDX-License-Identifier: GPL-2.0-only
// The probes of the drivers with no hardware in the lab (ioat, dsa, nv_falcon), run on
// config-space values and a fake BAR0 (anonymous memory): none may claim a lab device, and each
// claims what its C probe claims.
@testable import LibVFIO
import Testing

/// A lab device as config space shows it: vendor, device, class code (PCI_CLASS_DEVICE).
struct LabDevice: CustomTestStringConvertible, Sendable {
  let name: String
  let vendor: UInt16
  let device: UInt16
  let classDevice: UInt16
  var testDescription: String { "\(name) \(hex(vendor, width: 4)):\(hex(device, width: 4))" }

  var config: [UInt64: UInt16] { [0x00: vendor, 0x02: device, 0x0a: classDevice] }

  static let all = [
    LabDevice(name: "virtio-net (legacy)", vendor: 0x1af4, device: 0x1000, classDevice: 0x0200),
    LabDevice(name: "virtio-net (modern)", vendor: 0x1af4, device: 0x1041, classDevice: 0x0200),
    LabDevice(name: "edu", vendor: 0x1234, device: 0x11e8, classDevice: 0x00ff),
    LabDevice(name: "nvme", vendor: 0x1b36, device: 0x0010, classDevice: 0x0108),
    LabDevice(name: "igb (82576)", vendor: 0x8086, device: 0x10c9, classDevice: 0x0200),
  ]
}

/// The drivers ported without hardware, with their probe on plain values.
private var noHardwareProbes: [(name: String, probe: (VFIOPCIProbeInput) -> Bool)] {
  var p: [(name: String, probe: (VFIOPCIProbeInput) -> Bool)] = []
  #if arch(x86_64)
  p += [(DSADriver.name, DSADriver.probe), (IOATDriver.name, IOATDriver.probe)]
  #endif
  p.append((NVFalconDriver.name, NVFalconDriver.probe))
  return p
}

/// A fake BAR0 of `size` bytes with `values` stored little-endian.
private func bar0(size: Int = 4096, _ values: [(Int, any FixedWidthInteger)] = []) throws -> MappedMemory {
  let m = try MappedMemory.anonymousResult(size: size).get()
  for (offset, v) in values {
    switch v {
    case let x as UInt8: m.store(x, at: offset)
    case let x as UInt32: m.store(x.littleEndian, at: offset)
    case let x as UInt64: m.store(x.littleEndian, at: offset)
    default: Issue.record("unsupported value type")
    }
  }
  return m
}

@Suite("Drivers without lab hardware: probes")
struct DriverProbeTests {
  @Test("no lab device is claimed by ioat, dsa or nv_falcon, even with a BAR0 that would pass", arguments: LabDevice.all)
  func labDevicesAreNotClaimed(_ lab: LabDevice) throws {
    // A BAR0 that satisfies every later check (ioat version 3.3, dsa without CMDCAP, a verified
    // GPU's PMC_BOOT_0 is at offset 0 and ioat's version at 8, so they do not overlap).
    let memory = try bar0([(0, UInt32(0x1700_00a1)), (0x08, UInt8(0x33))])
    for d in noHardwareProbes {
      #expect(!d.probe(VFIOPCIProbeInput(device: lab.name, config: lab.config, bar0: memory)), "\(d.name) claimed \(lab.name)")
      #expect(!d.probe(VFIOPCIProbeInput(device: lab.name, config: lab.config)), "\(d.name) claimed \(lab.name) without BAR0")
    }
  }

  @Test("the registered drivers are C's, in C's order")
  func registeredInCOrder() {
    let names = VFIOPCIDriver.all.map { $0.name }
    #if arch(x86_64)
    #expect(Array(names.prefix(3)) == ["dsa", "ioat", "nv_falcon"])
    #else
    #expect(Array(names.prefix(1)) == ["nv_falcon"])
    #endif
  }

  #if arch(x86_64)
  @Test("ioat claims 8086:2021 with BAR0 version 3.2 or 3.3 only")
  func ioatProbe() throws {
    let skx: [UInt64: UInt16] = [0: 0x8086, 2: 0x2021]
    for (version, claimed) in [(UInt8(0x32), true), (0x33, true), (0x30, false), (0x34, false), (0x00, false)] {
      #expect(IOATDriver.probe(VFIOPCIProbeInput(device: "t", config: skx, bar0: try bar0([(IOATHW.IOAT_VER_OFFSET, version)]))) == claimed)
    }
    #expect(!IOATDriver.probe(VFIOPCIProbeInput(device: "t", config: skx)))  // BAR0 not mapped
    #expect(!IOATDriver.probe(VFIOPCIProbeInput(device: "t", config: [0: 0x8086, 2: 0x0b00], bar0: try bar0([(8, UInt8(0x33))]))))
  }

  @Test("dsa claims SPR0, DMR and GNRD unless the device needs interrupt handles requested")
  func dsaProbe() throws {
    let cmdCapBit = DSAHW.genCapCmdCap.mask
    let requestIntHandle = UInt32(1) << DSAHW.IDXD_CMD_REQUEST_INT_HANDLE
    for id: UInt16 in [0x0b25, 0x1212, 0x11fb] {
      let config: [UInt64: UInt16] = [0: 0x8086, 2: id]
      #expect(DSADriver.probe(VFIOPCIProbeInput(device: "t", config: config, bar0: try bar0())))
      // CMDCAP says REQUEST_INT_HANDLE, but GENCAP has no cmd_cap: still claimed
      #expect(DSADriver.probe(VFIOPCIProbeInput(device: "t", config: config, bar0: try bar0([(DSAHW.IDXD_CMDCAP_OFFSET, requestIntHandle)]))))
      #expect(!DSADriver.probe(VFIOPCIProbeInput(device: "t", config: config,
                                                 bar0: try bar0([(DSAHW.IDXD_GENCAP_OFFSET, cmdCapBit), (DSAHW.IDXD_CMDCAP_OFFSET, requestIntHandle)]))))
      #expect(!DSADriver.probe(VFIOPCIProbeInput(device: "t", config: config)))
    }
    #expect(!DSADriver.probe(VFIOPCIProbeInput(device: "t", config: [0: 0x8086, 2: 0x0b26], bar0: try bar0())))
    #expect(!DSADriver.probe(VFIOPCIProbeInput(device: "t", config: [0: 0x8087, 2: 0x0b25], bar0: try bar0())))
  }

  @Test("dsa descriptors: the bytes C's compound literals make")
  func dsaDescriptorBytes() {
    let d = DSAHWDesc(opcode: DSAHW.DSA_OPCODE_MEMMOVE, flags: DSAHW.IDXD_OP_FLAG_CRAV | DSAHW.IDXD_OP_FLAG_RCR, priv: 1,
                      completionAddr: 0x1122_3344_5566_7788, srcAddr: 0x1000, dstAddr: 0x2000, xferSize: 0x40, intHandle: 1)
    let b = d.bytes
    #expect(b.count == 64)
    #expect(Array(b[0..<4]) == [0, 0, 0, 0x80])  // priv: bit 31
    #expect(Array(b[4..<8]) == [0x0c, 0, 0, 0x03])  // flags CRAV|RCR, opcode MEMMOVE
    #expect(Array(b[8..<16]) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
    #expect(Array(b[32..<38]) == [0x40, 0, 0, 0, 1, 0])
    #expect(b[38...].allSatisfy { $0 == 0 })
  }

  @Test("ioat descriptor: copy op, int_en, self-chained")
  func ioatDescriptorBytes() {
    let b = IOATDMADescriptor(size: 8, intEn: true, op: IOATHW.IOAT_OP_COPY, srcAddr: 0x40, dstAddr: 0x48, next: 0x1000).bytes
    #expect(b.count == 64)
    #expect(Array(b[0..<8]) == [8, 0, 0, 0, 1, 0, 0, 0])
    #expect(b[24] == 0x00 && b[25] == 0x10)
    #expect(b[32...].allSatisfy { $0 == 0 })
  }
  #endif

  @Test("nv_falcon claims NVIDIA display functions of a known architecture, validated or not")
  func nvFalconProbe() throws {
    let gpu: [UInt64: UInt16] = [0: 0x10de, 0x0a: 0x0302]  // 3D controller
    #expect(NVFalconDriver.probe(VFIOPCIProbeInput(device: "t", config: gpu, bar0: try bar0([(0, UInt32(0x1700_00a1))]))))  // A100
    #expect(NVFalconDriver.probe(VFIOPCIProbeInput(device: "t", config: gpu, bar0: try bar0([(0, UInt32(0x1900_00a1))]))))  // unvalidated Ada
    #expect(!NVFalconDriver.probe(VFIOPCIProbeInput(device: "t", config: gpu, bar0: try bar0([(0, UInt32(0x1500_00a1))]))))  // unknown
    #expect(!NVFalconDriver.probe(VFIOPCIProbeInput(device: "t", config: gpu)))  // BAR0 not mapped
    // an NVIDIA audio function (class 0x0403) is not a GPU
    #expect(!NVFalconDriver.probe(VFIOPCIProbeInput(device: "t", config: [0: 0x10de, 0x0a: 0x0403], bar0: try bar0([(0, UInt32(0x1700_00a1))]))))
  }

  @Test("nv_falcon splits copies into power-of-2 chunks in one 256-byte block on both sides")
  func nvFalconChunks() {
    let c = NVFalconHW.chunks(src: 0x1000, dst: 0x20f0, size: 0x100)
    #expect(c.first?.size == 16)
    #expect(NVFalconHW.chunks(src: 0x1000, dst: 0x2000, size: 0x1c).map(\.size) == [16, 8, 4])
    #expect(c.reduce(0) { $0 + $1.size } == 0x100)
    for chunk in c {
      #expect(chunk.src / 256 == (chunk.src + chunk.size - 1) / 256 && chunk.dst / 256 == (chunk.dst + chunk.size - 1) / 256)
      #expect(NVFalconHW.dmaSizeEncoding(chunk.size) != nil)
    }
    #expect(NVFalconHW.dmaSizeEncoding(2) == nil && NVFalconHW.dmaSizeEncoding(512) == nil && NVFalconHW.dmaSizeEncoding(12) == nil)
  }
}
