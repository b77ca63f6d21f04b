// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import Testing

/// The registry is the one list: README.md's table and docs/command-line.md's are generated from
/// it, and every `VFIO_SELFTESTS_*` name the sources, tests and scripts mention is in it.
@Suite("The environment registry: tables and names")
struct EnvironmentTableTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in `file`.
  static func region(_ file: String, _ name: String) throws -> String {
    let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
    let begin = "<!-- \(name):begin -->\n", end = "<!-- \(name):end -->"
    let start = try #require(text.range(of: begin), "\(file) has no \(begin)")
    let stop = try #require(text.range(of: end, range: start.upperBound..<text.endIndex), "\(file) has no \(end)")
    return String(text[start.upperBound..<stop.lowerBound])
  }

  @Test func readmeTableIsTheRegistrys() throws {
    #expect(try Self.region("README.md", "environment") == SelftestsEnvironment.markdownTable(.user),
            "README.md's table differs from the registry: paste `vfio-selftests env --markdown` between the markers")
  }

  @Test func internalTableIsTheRegistrys() throws {
    #expect(try Self.region("docs/command-line.md", "environment-internal") == SelftestsEnvironment.markdownTable(.internal),
            "docs/command-line.md's table differs: paste `vfio-selftests env --markdown --internal` between the markers")
  }

  /// Every name the code, the tests and the scripts read is registered (else `run` would refuse
  /// what a script sets), and every registered name is read somewhere.
  @Test func everyNameMentionedIsRegistered() throws {
    var mentioned = Set<String>()
    let registry = "SelftestsEnvironmentVariable.swift"
    let pattern = try NSRegularExpression(pattern: "VFIO_SELFTESTS_[A-Z0-9]+(_[A-Z0-9]+)*")
    for dir in ["Sources", "Tests", "scripts", ".ci"] {
      guard let files = FileManager.default.enumerator(atPath: Self.root.appendingPathComponent(dir).path) else { continue }
      for case let file as String in files where !file.contains("__pycache__") && !file.hasSuffix(registry) {
        let url = Self.root.appendingPathComponent(dir).appendingPathComponent(file)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
        for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
          if let r = Range(m.range, in: text) { mentioned.insert(String(text[r])) }
        }
      }
    }
    let registered = Set(SelftestsEnvironment.Variable.allCases.map(\.rawValue))
    #expect(mentioned.subtracting(registered).sorted() == [], "mentioned but not in SelftestsEnvironment.Variable")
    #expect(registered.subtracting(mentioned).sorted() == [], "registered but read nowhere")
  }
}

/// Each type's parser: good values parse, bad ones name what was expected.
@Suite("The environment registry: one parser per type")
struct EnvironmentParserTests {
  typealias E = SelftestsEnvironment
  static let modes = IOMMUMode.allCases.map(\.rawValue).joined(separator: ", ")

  @Test(arguments: [
    (E.ValueType.bdf, "0000:00:03.0 0000:00:04.0", "a PCI address, DDDD:BB:DD.F or BB:DD.F (hex)"),
    (.bdfList, "00:03.0;00:04.0", "PCI addresses separated by spaces or commas ('00:03.0;00:04.0' is not one)"),
    (.bdfList, " , ", "at least one PCI address"),
    (.stage, "02x", "1 (before kexec) or 2 (after kexec)"),
    (.stageCount, "3", "1 (one boot) or 2 (a boot, a kexec and a second stage)"),
    (.iommuMode, "IOMMUFD", "one of \(modes)"),
    (.iommuModeList, "iommufd type1", "mode names separated by spaces or commas ('type1' is not one of \(modes))"),
    (.iommuModeList, ",", "at least one of \(modes)"),
    (.strictCapabilities, "iommufd,vfio", "1, 0, or a comma-separated list of vfio-container, iommufd, vfio-cdev, liveupdate, vfio-liveupdate, sriov"),
    (.scale, "101", "a number from 1 to 100 (C's time limits are multiplied by it)"),
    (.scale, "nan", "a number from 1 to 100 (C's time limits are multiplied by it)"),
    (.bytes, "2097151", "a size in bytes of at least 2097152 (2 MiB)"),
    (.secondsPerMode, "iommufd=0", "seconds, or mode=seconds[,mode=seconds] with a mode of \(modes)"),
    (.checkpoint, "setup", "one of \(DeviceSetup.checkpoints.joined(separator: ", "))"),
    (.sessionPrefix, "abcdefghijklmnopq", "at most 16 letters, digits, '-', '_' or '.'"),
    (.path, "/tmp/a\nb", "a path without control characters"),
    (.regex, "a\tb", "a regular expression on one line"),
    (.flagOrBDF, "yes", "1, or a PCI address (DDDD:BB:DD.F or BB:DD.F, hex)"),
    (.nameList, "luo_kexec_simple,,vfio_dma_mapping_test", "names of letters, digits, '-', '_' or '.' separated by commas"),
    (.nameList, "a b", "names of letters, digits, '-', '_' or '.' separated by commas"),
    (.text, "7.3\u{1b}[0m", "text without control characters"),
  ])
  func badInput(_ type: E.ValueType, _ value: String, _ expected: String) {
    #expect(throws: E.Mismatch(expected)) { try type.check(value) }
  }

  @Test func badRegexSaysWhy() {
    #expect {
      try E.ValueType.regex.check("liveupdate|(luo")
    } throws: { e in
      let m = e as? E.Mismatch
      return m?.expected.hasPrefix("a regular expression (") == true && m?.expected.contains("\n") == false
    }
  }

  @Test(arguments: [
    (E.ValueType.bdf, "00:03.0"), (.bdfList, "0000:00:03.0, 00:04.0"), (.stage, "2"), (.stageCount, "1"),
    (.iommuMode, "iommufd_compat_type1v2"), (.iommuModeList, "vfio_type1_iommu,iommufd iommufd_compat_type1"),
    (.strictCapabilities, "1"), (.strictCapabilities, "liveupdate, sriov"), (.scale, "4"), (.bytes, "4194304"),
    (.secondsPerMode, "2.5"), (.checkpoint, "cleanup:unbound"), (.sessionPrefix, "c-1.x_"), (.path, "/work/x y"),
    (.regex, "liveupdate|luo_kexec|vfio_dma_mapping_test"), (.regex, "^VFIOHardwareTests\\."), (.flagOrBDF, "1"),
    (.flagOrBDF, "0000:00:04.0"), (.nameList, "vfio_dma_mapping_test,luo_kexec_simple"), (.text, "debian 7.3"),
  ])
  func goodInput(_ type: E.ValueType, _ value: String) throws {
    try type.check(value)
  }

  @Test func typedValues() throws {
    let env = E(values: [
      "VFIO_SELFTESTS_IOMMU_MODES": "iommufd vfio_type1_iommu", "VFIO_SELFTESTS_STAGES": "2",
      "VFIO_SELFTESTS_CLI_ACCEPTANCE": "00:04.0", "VFIO_SELFTESTS_COMPARE_C": "a,b", "PATH": "/bin",
    ])
    #expect(try env.iommuModes() == [.iommufd, .vfioType1])
    #expect(try env.stages() == 2)
    #expect(try env.cliAcceptance() == .some(PCIAddress("0000:00:04.0")))
    #expect(try E(values: ["VFIO_SELFTESTS_CLI_ACCEPTANCE": "1"]).cliAcceptance() == .some(nil))
    #expect(try E(values: [:]).cliAcceptance() == nil)
    #expect(try env.compareC() == ["a", "b"])
    #expect(env.values["PATH"] == nil)
    #expect(try E(values: [:]).iommuModes() == nil)
    #expect(try E(values: [:]).stages() == 1)
  }

  @Test func unknownNamesGetTheNearestRegisteredOne() {
    // (Spelled in two pieces so that everyNameMentionedIsRegistered does not see them.)
    let typo = E.prefix + "TIMOUT_SCALE", other = E.prefix + "COLOUR"
    let env = E(values: [typo: "4", "VFIO_SELFTESTS_BDF": "00:03.0", other: "x", "VFIO_SELFTESTS_STAGE": "9"])
    #expect(env.unknown().map(\.description) == [
      "\(other): unknown variable (vfio-selftests env lists them)",
      "\(typo): unknown variable (did you mean VFIO_SELFTESTS_TIMEOUT_SCALE?)",
    ])
    #expect(env.problems().count == 3)
    #expect(env.problems().last == "VFIO_SELFTESTS_STAGE='9': expected 1 (before kexec) or 2 (after kexec)")
  }

  @Test func everyVariableIsValidated() {
    let bad = Dictionary(uniqueKeysWithValues: E.Variable.allCases.map { ($0.rawValue, "bad\u{7}value") })
    #expect(E(values: bad).validate().map(\.variable) == E.Variable.allCases)
  }

  @Test func everyVariableHasAMeaningAndOneLine() {
    for v in E.Variable.allCases {
      #expect(!v.meaning.isEmpty && !v.meaning.contains("\n") && !v.meaning.contains("|"), "\(v.rawValue)")
    }
  }
}
