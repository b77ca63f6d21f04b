import ArgumentParser

@main
struct VFIOSelftests: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vfio-selftests",
    abstract: "Set up devices for, and run, the Swift port of the kernel's VFIO and Live Update selftests.",
    subcommands: [Modprobe.self, Setup.self, Cleanup.self]
  )
}
