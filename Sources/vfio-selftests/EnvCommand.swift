// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO

/// `vfio-selftests env`: the environment registry, and a check of this process's environment.
struct EnvCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "env",
    abstract: "List the VFIO_SELFTESTS_* variables: each one's value here and meaning; or check them.",
    discussion: """
      Without options: one line per variable (name, value or '-', meaning), internal ones (set \
      by the scripts and the command line for the processes they start) marked. --markdown: \
      README.md's table (--internal: docs/command-line.md's). --check: every VFIO_SELFTESTS_* \
      variable of this environment parsed as `run` does before it starts; an unknown name or a \
      bad value is a line each on stderr, and exit 1.
      """)

  @Flag(help: "Print the table of the user-facing variables in Markdown (README.md's).")
  var markdown = false

  @Flag(help: "With --markdown: the table of the internal variables (docs/command-line.md's).")
  var `internal` = false

  @Flag(help: "Check the current environment: exit 1 on an unknown name or a bad value, one line each.")
  var check = false

  func run() throws {
    if check {
      let problems = SelftestsEnvironment.current.problems()
      for p in problems { printError(p) }
      if !problems.isEmpty { throw ExitCode.failure }
      return
    }
    if markdown {
      print(SelftestsEnvironment.markdownTable(`internal` ? .internal : .user), terminator: "")
      return
    }
    let env = SelftestsEnvironment.current
    let width = SelftestsEnvironment.Variable.allCases.map(\.rawValue.count).max() ?? 0
    for v in SelftestsEnvironment.Variable.allCases {
      let name = v.rawValue.padded(to: width)
      let value = env.raw(v).map { "'\($0)'" } ?? "-"
      print("\(name)  \(value)  \(v.meaning)\(v.audience == .internal ? " (internal)" : "")")
    }
    for u in env.unknown() { print("\(u.name)  '\(env.values[u.name] ?? "")'  \(u.description)") }
  }
}
