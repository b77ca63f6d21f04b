// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO
import VFIOSelftestsCLI

struct Kselftest: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kselftest",
    abstract: "Run one C program's tests as that program does: its arguments, its KTAP, its exit code.",
    discussion: """
      What the kselftest package's vfio/<program> and liveupdate/<program> run (scripts/package.sh), \
      so run_kselftest.sh nests the port unchanged. PROGRAM is a C selftest's name (\
      \(KselftestProgram.all.map(\.name).joined(separator: ", "))). ARGS are the C program's: \
      the kselftest harness's -l, -h, -d, -f/-F/-v/-V/-t/-T/-r NAME, -s 1|2 for the kexec programs, \
      and the device(s) last (else VFIO_SELFTESTS_BDF). Prints TAP version 13 with the C harness's \
      test names on stdout; -d also passes the test binary's own output to stderr. Exit: 0 pass \
      (skipped tests count as passed, as in the harness), 1 fail, 4 skip (the whole program: \
      not root, no device, -l, -h).
      """)

  @Flag(help: "Print kselftest-list.txt (collection:program of each program run_kselftest.sh runs) and exit.")
  var kselftestList = false

  @Flag(help: "Print collection:program of every program, the kexec ones too, and exit.")
  var allPrograms = false

  @Flag(help: ArgumentHelp("Store the test binary's declarations beside it (<binary>.listing.jsonl), which the programs then read instead of starting the binary twice; scripts/package.sh does it.", visibility: .hidden))
  var writeListing = false

  @Argument(help: "The C program's name.")
  var program: String?

  @Argument(parsing: .captureForPassthrough, help: "The C program's arguments.")
  var arguments: [String] = []

  func run() throws {
    if writeListing {
      try TestBinary().writeListing(environment: Syscalls.environment(prefix: ""))
      return
    }
    if kselftestList || allPrograms {
      print(kselftestList ? KselftestProgram.listText : KselftestProgram.all.map { "\($0.collection):\($0.name)\n" }.joined(), terminator: "")
      return
    }
    guard let program else { throw CLIError("kselftest: name a program (\(KselftestProgram.all.map(\.name).joined(separator: ", ")))") }
    guard let p = KselftestProgram.named(program) else {
      throw CLIError("unknown program '\(program)': expected one of \(KselftestProgram.all.map(\.name).joined(separator: ", "))")
    }
    let args: KselftestArguments
    do {
      args = try KselftestArguments(parsing: arguments, program: p)
    } catch {
      writeStderr("\(p.name): \(error.description)\n" + KselftestArguments.usage(p))
      throw ExitCode(KselftestExit.fail)
    }
    if args.help {
      writeStderr(KselftestArguments.usage(p))
      throw ExitCode(KselftestExit.skip)
    }
    typealias V = SelftestsEnvironment.Variable
    var env = Syscalls.environment(prefix: "")
    let selftestsEnv = SelftestsEnvironment.current
    if let bad = selftestsEnv.validate().first { throw CLIError("\(p.name): \(bad.description)") }
    let binary = try TestBinary()
    let declarations = try binary.declarations(environment: env)
    let selection = KselftestSelection(declarations: declarations, program: p, arguments: args)
    if args.list {
      writeStderr(selection.listing)
      throw ExitCode(KselftestExit.skip)
    }
    guard Syscalls.effectiveUserID == 0 else { return finish(KselftestReport.skipAll("not root (euid \(Syscalls.effectiveUserID))")) }
    let strict = (try? selftestsEnv.strict()) ?? .only([])
    if let missing = p.missingCapability(exists: { FileSystem.exists($0) }, strict: strict) {
      return finish(KselftestReport.skipAll(missing))
    }

    // The devices, as libvfio takes them: argv's trailing BDFs, else VFIO_SELFTESTS_BDF.
    // (validated above: a bad value has already been refused).
    let fromEnv = try? selftestsEnv.address(.bdf)
    switch p.devices {
    case .none:
      break
    case .one, .many:
      let devices = args.devices.isEmpty ? (fromEnv.flatMap { $0 }.map { [$0] } ?? []) : args.devices
      guard let first = devices.first else {
        return finish(KselftestReport.skipAll("Unable to determine which device(s) to use: VFIO_SELFTESTS_BDF not set and no device given"))
      }
      env[V.bdf.rawValue] = first.description
      env[V.bdfs.rawValue] = (p.devices == .one ? [first] : devices).map(\.description).joined(separator: " ")
    case .sriovPF:
      let pf = args.devices.first ?? (try? selftestsEnv.address(.sriovBDF)).flatMap { $0 } ?? fromEnv.flatMap { $0 }
      guard let pf else { return finish(KselftestReport.skipAll("Unable to determine which device to use: no SR-IOV PF given (argv, VFIO_SELFTESTS_SRIOV_BDF or VFIO_SELFTESTS_BDF)")) }
      env[V.sriovBDF.rawValue] = pf.description
    }
    if p.staged { env[V.stage.rawValue] = String(args.stage ?? 1) }

    guard !selection.entries.isEmpty else {
      return finish(KselftestReport.document(program: p, selection: selection, run: TestRunResults(records: []), diagnostics: []))
    }
    // Cases of the modes selected only: a parameterized test runs every mode it is given.
    if let modes = selection.iommuModes { env[SelftestsEnvironment.Variable.iommuModes.rawValue] = modes.map(\.rawValue).joined(separator: " ") }
    let outcome = try binary.run(arguments: ["--filter", selection.filter], environment: env,
                                 output: arguments.contains("-d") ? .toStderr : .discard)
    var diagnostics = outcome.diagnostics
    if outcome.run.suiteFailures > 0 { diagnostics.append("\(outcome.run.suiteFailures) suite(s) failed on their own (setup or a trait)") }
    finish(KselftestReport.document(program: p, selection: selection, run: outcome.run, diagnostics: diagnostics))
  }

  /// Prints the program's KTAP and exits with its kselftest code.
  func finish(_ report: (text: String, code: Int32)) {
    writeStdout(report.text)
    Syscalls.exit(report.code)
  }
}
