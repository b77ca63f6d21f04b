// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO

/// The names the C selftests give the tests this port mirrors, so a KTAP or JUnit consumer
/// (KernelCI, LAVA, NIPA, `scripts/compare-c.sh`) lines C and Swift results up by name.
///
/// The C harness (kselftest_harness.h) names a test `fixture.variant.test` (`fixture.test` when
/// the fixture has no variants) and kselftest runs one program per source file; the port's
/// suites carry C's `fixture.variant` as their display name wherever the structure is the same.
/// The rules below cover where it is not:
/// - vfio_dma_mapping_test: C's backing is part of the variant and the limit tests are a second
///   fixture of the same program (`vfio_dma_mapping_test.<mode>_<backing>.dma_map_unmap`,
///   `vfio_dma_map_limit_test.<mode>.unmap_range`).
/// - vfio_pci_device_test has no iommu-mode variants in C (it uses the default mode, iommufd) and
///   its IRQ tests are the fixture vfio_pci_irq_test (variants msi, msix). The port runs them in
///   all five modes: the iommufd ones get C's names, the others the mode as (part of) the variant.
/// - vfio_iommufd_setup_test's fixture is vfio_cdev; liveupdate's is liveupdate_device.
/// - vfio_pci_device_init_perf_test: the port's tests are `<mode>_init`, C's `<mode>.init`.
/// - The luo_* kexec programs are plain kselftest programs: one test each, the program's name.
/// Tests with no C twin (the port's own suites) keep `suite.test` under the suite's first part.
/// A parameterized test is one C test per case: the case's argument joins the suite's name as
/// (the last part of) the variant, so `vfio_pci_device_test` + `validate_bars` + `iommufd_compat_type1`
/// is named as the suite `vfio_pci_device_test.iommufd_compat_type1` + `validate_bars` was.
public struct CName: Equatable, Hashable, Sendable {
  /// The C program (source file) the test belongs to: KTAP's top level, JUnit's classname.
  public var program: String
  /// `fixture.variant.test`.
  public var name: String

  public init(program: String, name: String) {
    self.program = program
    self.name = name
  }

  static let modes = IOMMUMode.allCases.map(\.rawValue)
  /// libvfio's `default_iommu_mode` (lib/iommu.c), which the C tests without mode variants use.
  static let defaultMode = IOMMUMode.default.rawValue

  /// The C name of the case of test `test` (its name without `()`) of the suite displayed as
  /// `suite` whose argument is displayed as `argument` (an iommu mode, a mode and a variant...).
  public static func of(suite: String?, test: String, argument: String) -> CName {
    of(suite: suite.map { "\($0).\(argument)" } ?? argument, test: test)
  }

  /// The C name of test `test` (its name without `()`) of the suite displayed as `suite`.
  public static func of(suite: String, test: String) -> CName {
    let parts = suite.split(separator: ".", maxSplits: 1).map(String.init)
    let fixture = parts.first ?? suite
    let variant = parts.count > 1 ? parts[1] : nil
    switch (fixture, variant) {
    case ("vfio_dma_mapping_test", let mode?) where modes.contains(mode):
      if test.hasPrefix("limit_") {
        return CName(program: fixture, name: "vfio_dma_map_limit_test.\(mode).\(test.dropFirst(6))")
      }
      if test.hasSuffix("_dma_map_unmap") {
        return CName(program: fixture, name: "vfio_dma_mapping_test.\(mode)_\(test.dropLast(14)).dma_map_unmap")
      }
    case ("vfio_pci_device_test", let mode?) where modes.contains(mode):
      for irq in ["msi", "msix"] where test == "\(irq)_enable_trigger_disable" {
        let v = mode == defaultMode ? irq : "\(mode)_\(irq)"
        return CName(program: fixture, name: "vfio_pci_irq_test.\(v).enable_trigger_disable")
      }
      return CName(program: fixture, name: mode == defaultMode ? "\(fixture).\(test)" : "\(fixture).\(mode).\(test)")
    case ("vfio_iommufd_setup_test", nil):
      return CName(program: fixture, name: "vfio_cdev.\(test)")
    case ("liveupdate", nil):
      return CName(program: fixture, name: "liveupdate_device.\(test)")
    case ("luo_kexec", nil):
      return CName(program: test, name: test)
    case ("vfio_pci_device_init_perf_test", nil):
      if let mode = modes.first(where: { test == "\($0)_init" }) {
        return CName(program: fixture, name: "\(fixture).\(mode).init")
      }
    default:
      break
    }
    return CName(program: fixture, name: "\(suite).\(test)")
  }
}

extension TestRunResults {
  /// One C program's tests, in the order they ran.
  public struct Program: Sendable {
    public var name: String
    public var tests: [(name: CName, node: Node)]
  }

  /// The run's tests under their C names, grouped by C program in order of first appearance. A
  /// suite that failed on its own (its setup threw, a trait failed) with no failing test is one
  /// failed test named after the suite, so the failure is not lost.
  public var programs: [Program] {
    var order: [String] = []
    var byProgram: [String: [(name: CName, node: Node)]] = [:]
    func add(_ c: CName, _ n: Node) {
      if byProgram[c.program] == nil { order.append(c.program) }
      byProgram[c.program, default: []].append((c, n))
    }
    func walk(_ n: Node, suite: String?) {
      if n.isSuite {
        let own: Bool
        if case .failed(let m) = n.outcome { own = !m.isEmpty && !n.children.contains { $0.outcome.isFailure } } else { own = false }
        if own {
          let first = n.name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? n.name
          add(CName(program: first, name: n.name), Node(id: n.id, name: n.name, isSuite: false, outcome: n.outcome, children: []))
        }
        for c in n.children { walk(c, suite: n.name) }
      } else if n.isParameterized {
        for c in n.children { add(CName.of(suite: suite, test: n.name, argument: c.argument ?? c.name), c) }
      } else {
        add(CName.of(suite: suite ?? n.name, test: n.name), n)
      }
    }
    for r in roots { walk(r, suite: nil) }
    // As the harness orders them: a suite's cases of one argument (mode) together, as one suite
    // per mode ran them before the tests were parameterized.
    return order.map { Program(name: $0, tests: KselftestSelection.groupedByArgument(byProgram[$0]!) { KselftestSelection.caseGroup($0.node.testID, $0.node.argument) }) }
  }
}
