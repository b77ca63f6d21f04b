// SPDX-License-Identifier: GPL-2.0-only
// The igb driver's probe and its QEMU-model check on config-space values (no device).
@testable import LibVFIO
import Testing

@Suite("igb driver: probe and QEMU model")
struct IGBDriverProbeTests {
  private func input(_ config: [UInt64: UInt16]) -> VFIOPCIProbeInput { VFIOPCIProbeInput(device: "0000:00:06.0", config: config) }

  @Test("claims 8086:10c9 only (igb_probe), whatever its subsystem")
  func probe() {
    #expect(IGBDriver.probe(input([0x00: 0x8086, 0x02: 0x10c9])))
    #expect(IGBDriver.probe(input([0x00: 0x8086, 0x02: 0x10c9, 0x2c: 0x8086, 0x2e: 0xa02c])))
    #expect(!IGBDriver.probe(input([0x00: 0x8086, 0x02: 0x10c6])))
    #expect(!IGBDriver.probe(input([0x00: 0x1af4, 0x02: 0x10c9])))
    #expect(!IGBDriver.probe(input([0x00: 0x1234, 0x02: 0x11e8])))
  }

  @Test("QEMU's model is 8086:10c9 with QEMU's subsystem IDs 1af4:1100; a real board's are not")
  func qemuModel() {
    #expect(IGBDriver.isQEMUModel(input([0x00: 0x8086, 0x02: 0x10c9, 0x2c: 0x1af4, 0x2e: 0x1100])))
    #expect(!IGBDriver.isQEMUModel(input([0x00: 0x8086, 0x02: 0x10c9, 0x2c: 0x8086, 0x2e: 0xa02c])))
    #expect(!IGBDriver.isQEMUModel(input([0x00: 0x8086, 0x02: 0x10c9, 0x2c: 0x1af4, 0x2e: 0x1000])))
    #expect(!IGBDriver.isQEMUModel(input([0x00: 0x1af4, 0x02: 0x1000, 0x2c: 0x1af4, 0x2e: 0x1100])))
  }

  @Test("the state fits C's 2 MiB driver region; rings at C's offsets; C's limits and MSI vector")
  func layout() {
    #expect(IGBDriver.requiredRegionSize == 131_200 && IGBDriver.requiredRegionSize <= 2 << 20)
    #expect(IGBState.txRingOffset == 128 && IGBState.rxRingOffset == 65_664)
    #expect(IGBDriver.IGB_MAX_CHUNK_SIZE == 1024 && IGBDriver.MSIX_VECTOR == 0 && IGBState.ringSize - 1 == 4095)
  }
}
