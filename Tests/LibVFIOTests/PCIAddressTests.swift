// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import Testing

@Suite("PCIAddress parsing and ordering")
struct PCIAddressTests {
  struct Good: Sendable, CustomTestStringConvertible {
    let text: String
    let domain: UInt16, bus: UInt8, device: UInt8, function: UInt8
    let canonical: String
    var testDescription: String { "'\(text)'" }
  }

  static let good: [Good] = [
    Good(text: "0000:00:03.0", domain: 0, bus: 0, device: 3, function: 0, canonical: "0000:00:03.0"),
    Good(text: "00:03.0", domain: 0, bus: 0, device: 3, function: 0, canonical: "0000:00:03.0"),
    Good(text: "0:0:3.0", domain: 0, bus: 0, device: 3, function: 0, canonical: "0000:00:03.0"),
    Good(text: "ffff:ff:1f.7", domain: 0xFFFF, bus: 0xFF, device: 0x1F, function: 7, canonical: "ffff:ff:1f.7"),
    Good(text: "ABCD:EF:1A.5", domain: 0xABCD, bus: 0xEF, device: 0x1A, function: 5, canonical: "abcd:ef:1a.5"),
    Good(text: "0001:3b:00.2", domain: 1, bus: 0x3B, device: 0, function: 2, canonical: "0001:3b:00.2"),
    Good(text: "a:b:c.7", domain: 0xA, bus: 0xB, device: 0xC, function: 7, canonical: "000a:0b:0c.7"),
  ]

  @Test("parses to exact fields and canonical description", arguments: good)
  func parses(_ g: Good) throws {
    let a = try PCIAddress(parsing: g.text)
    #expect(a.domain == g.domain)
    #expect(a.bus == g.bus)
    #expect(a.device == g.device)
    #expect(a.function == g.function)
    #expect(a.description == g.canonical)
    #expect(PCIAddress(g.text) == a)
    #expect(a == PCIAddress(domain: g.domain, bus: g.bus, device: g.device, function: g.function))
    // The canonical spelling parses back to the same address.
    #expect(try PCIAddress(parsing: a.description) == a)
  }

  static let bad: [String] = [
    "",
    "00:03",
    "0000:00:20.0",  // device > 0x1f
    "0000:00:03.8",  // function > 7
    "10000:00:00.0",  // domain > 4 digits
    "000g:00:00.0",
    "0000:000:00.0",  // bus with 3 digits
    "0000:00:03.0 ",  // trailing space
    " 0000:00:03.0",  // leading space
    "0000:00:03.0.1",
    "a:b:c:d.e",
    "a:b:c.d",  // function 0xd
    ":00:03.0",
    "0000::03.0",
    "0000:00:.0",
    "0000:00:03.",
    "0000:00:003.0",
    "0000:00:03.00",
    "+000:00:03.0",
    "0x00:03.0",
    "-1:00:03.0",
    "0000:00:03,0",
    "0000:00:03:0",
  ]

  @Test("rejects with invalidAddress naming the input", arguments: bad)
  func rejects(_ text: String) {
    #expect(throws: VFIOError.invalidAddress(text)) { try PCIAddress(parsing: text) }
    #expect(PCIAddress(text) == nil)
  }

  @Test func descriptionPadsEveryField() {
    #expect(PCIAddress(domain: 0, bus: 0, device: 0, function: 0).description == "0000:00:00.0")
    #expect(PCIAddress(domain: 0x12, bus: 0x3, device: 0x4, function: 1).description == "0012:03:04.1")
    #expect(PCIAddress(bus: 0xa0, device: 0x1f, function: 7).description == "0000:a0:1f.7")
    #expect(PCIAddress(domain: 0xbeef, bus: 0xff, device: 0x1f, function: 7).description == "beef:ff:1f.7")
  }

  @Test func orderIsDomainBusDeviceFunction() throws {
    let texts = ["0001:00:00.0", "0000:01:00.0", "0000:00:1f.7", "0000:00:03.1", "0000:00:03.0", "0000:00:00.0", "0000:ff:00.0"]
    let sorted = try texts.map { try PCIAddress(parsing: $0) }.sorted().map(\.description)
    #expect(sorted == ["0000:00:00.0", "0000:00:03.0", "0000:00:03.1", "0000:00:1f.7", "0000:01:00.0", "0000:ff:00.0", "0001:00:00.0"])
    let a = try PCIAddress(parsing: "0000:00:03.0")
    #expect(!(a < a))
    #expect(a < PCIAddress(bus: 0, device: 3, function: 1))
    #expect(PCIAddress(bus: 0xff, device: 0x1f, function: 7) < PCIAddress(domain: 1, bus: 0, device: 0, function: 0))
  }

  @Test func shortAndLongSpellingsAreEqualAndHashAlike() throws {
    let set: Set<PCIAddress> = [try PCIAddress(parsing: "00:03.0"), try PCIAddress(parsing: "0000:00:03.0"), try PCIAddress(parsing: "0:0:3.0")]
    #expect(set.count == 1)
  }
}

@Suite("VFIODeviceID's PCI address")
struct VFIODeviceIDAddressTests {
  @Test("a PCI function has its address")
  func pciFunction() throws {
    let a = try PCIAddress(parsing: "0000:00:03.0")
    let id = VFIODeviceID.pci(a)
    #expect(id.pciAddress == a)
    #expect(try id.requirePCIAddress(for: "read sysfs vendor") == a)
  }

  /// An mdev has no PCI address: asking for one is a typed error naming the operation and the
  /// mdev, not a trap that would kill every remaining test.
  @Test("an mdev throws, naming the operation and the mdev")
  func mdevThrows() {
    let uuid = "52ac9bff-3a88-4fbd-901a-0d767c3b6c97"
    let id = VFIODeviceID.mdev(uuid: uuid)
    #expect(id.pciAddress == nil)
    #expect(throws: VFIOError.unexpected(operation: "IOMMU debugfs lookup", device: uuid, detail: "an mdev has no PCI address")) {
      try id.requirePCIAddress(for: "IOMMU debugfs lookup")
    }
    do throws(VFIOError) {
      let a = try id.requirePCIAddress(for: "IOMMU debugfs lookup")
      Issue.record("an mdev gave a PCI address \(a)")
    } catch {
      #expect(error.description == "IOMMU debugfs lookup on \(uuid): an mdev has no PCI address")
    }
  }
}
