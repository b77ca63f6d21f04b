// SPDX-License-Identifier: GPL-2.0-only
// The edu driver's errors name the device and say what the device would have done.
import LibVFIO
import Testing

@Suite("EDUError texts")
struct EDUErrorTests {
  @Test func beyondTheMaskSaysWhereTheDeviceWouldGo() {
    let e = EDUError.beyondDMAMask(device: "0000:00:04.0", what: "source", iova: 0x8000_0000, size: 0xfff, mask: 0xfff_ffff)
    #expect(e.description == "edu 0000:00:04.0: source IOVA 0x80000000 (+0xfff bytes) is beyond the DMA mask 0xfffffff: the device would alias it to 0x0")
  }

  @Test func busyAndLivenessNameTheRegisters() {
    #expect(EDUError.busy(device: "0000:00:04.0", operation: "init", command: 1, waitedMilliseconds: 3000).description
      == "edu 0000:00:04.0: init: DMA transfer still running after 3000 ms (command register 0x1)")
    #expect(EDUError.liveness(device: "0000:00:04.0", wrote: 0x5aa5_c33c, read: 0).description
      == "edu 0000:00:04.0: liveness register: wrote 0x5aa5c33c, read 0x0, expected 0xa55a3cc3")
    #expect(EDUError.invalidSize(device: "0000:00:04.0", size: 4096, max: 4095).description
      == "edu 0000:00:04.0: copy of 4096 bytes: the DMA buffer takes 1 to 4095")
  }
}
