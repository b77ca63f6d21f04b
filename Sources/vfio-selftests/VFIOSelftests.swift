// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO

@main
struct VFIOSelftests: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vfio-selftests",
    abstract: "Set up devices for, and run, the Swift port of the kernel's VFIO and Live Update selftests.",
    discussion: """
      Workflow (like the C selftests' scripts/setup.sh, the test binary, scripts/cleanup.sh):
        vfio-selftests doctor
        vfio-selftests setup 0000:00:03.0
        vfio-selftests run --ktap - 0000:00:03.0
        vfio-selftests cleanup
      Exit codes follow kselftest: 0 pass, 1 fail, 4 skip.
      """,
    // Every command names itself (commandName): ArgumentParser would otherwise derive each name
    // with String(describing:), a scan of the runtime's conformance records per command at every
    // start of the CLI, which each kselftest program and `run` pay.
    subcommands: [DoctorCommand.self, Modprobe.self, Setup.self, Run.self, Kselftest.self, Cleanup.self, KernelReports.self, EnvCommand.self]
  )

  /// Errors are one line on stderr (`vfio-selftests: error: ...`) and a non-zero exit; help
  /// and usage go to stdout as ArgumentParser prints them.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        print(fullMessage(for: error))
        Syscalls.exit(0)
      }
      let message = message(for: error).split(separator: "\n").first.map(String.init) ?? ""
      if !message.isEmpty {
        let text = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
        writeStderr("vfio-selftests: error: \(text)\n")
      }
      Syscalls.exit(code.rawValue)
    }
  }
}

/// A one-line failure with the kselftest failure code.
struct CLIError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Setup, cleanup and run change or use devices through sysfs and /dev: root only.
func requireRoot(_ what: String) throws {
  guard Syscalls.effectiveUserID == 0 else { throw CLIError("\(what) needs root (euid is \(Syscalls.effectiveUserID))") }
}
