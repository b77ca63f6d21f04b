// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import Testing

@Suite("VF token parsing")
struct VFTokenTests {
  @Test("parses the 36-character form byte by byte and prints it back in lower case")
  func parses() throws {
    let t = try VFToken(parsing: "52AC9BFF-3a88-4fbd-901a-0d767c3b6c97")
    #expect(t.bytes == [0x52, 0xAC, 0x9B, 0xFF, 0x3A, 0x88, 0x4F, 0xBD, 0x90, 0x1A, 0x0D, 0x76, 0x7C, 0x3B, 0x6C, 0x97])
    #expect(t.description == "52ac9bff-3a88-4fbd-901a-0d767c3b6c97")
    #expect(VFToken(t.description) == t)
    #expect(VFToken("88594674-90a0-47a9-aea8-9d9b352ac08a") != t)
  }

  @Test("rejects anything uuid_parse rejects", arguments: [
    "", "52ac9bff3a884fbd901a0d767c3b6c97", "52ac9bff-3a88-4fbd-901a-0d767c3b6c9",
    "52ac9bff-3a88-4fbd-901a-0d767c3b6c977", "52ac9bff-3a88-4fbd-901a_0d767c3b6c97",
    "52ac9bfg-3a88-4fbd-901a-0d767c3b6c97", " 52ac9bff-3a88-4fbd-901a-0d767c3b6c97",
    "52ac9bf-f3a88-4fbd-901a-0d767c3b6c97",
  ])
  func rejects(_ text: String) {
    #expect(throws: VFIOError.invalidVFToken(text)) { try VFToken(parsing: text) }
    #expect(VFToken(text) == nil)
  }
}
