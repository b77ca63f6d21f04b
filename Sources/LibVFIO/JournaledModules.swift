// SPDX-License-Identifier: GPL-2.0-only
/// Module loading that `vfio-selftests cleanup` can undo. Before a load, every module it will
/// bring in that is not loaded yet (the module, its dependencies, its soft dependencies) is
/// recorded in the resource journal; after it, the records of those that did not load are
/// dropped and any module it loaded beyond them is recorded; a load that fails unloads what it
/// had brought in (libkmod leaves the dependencies it loaded before the failure). Unloading
/// takes journaled modules only, each after the journaled modules that hold it, so a module
/// that was loaded before a load (never recorded) is never unloaded.
public struct JournaledModules {
  public let modules: KernelModules
  public let journal: ResourceJournal

  public init(modules: KernelModules, journal: ResourceJournal = ResourceJournal()) {
    self.modules = modules
    self.journal = journal
  }

  /// What a journaled load did.
  public struct Loaded: Equatable, Sendable {
    public var outcome: KernelModules.LoadOutcome
    /// The modules it brought in (each recorded in the journal), in load order.
    public var brought: [String]

    public init(outcome: KernelModules.LoadOutcome, brought: [String]) {
      self.outcome = outcome
      self.brought = brought
    }
  }

  /// Loads `name` (a module name or alias) and its dependencies, journaling each module it
  /// brings in. A module already loaded or built in is not journaled.
  public func load(_ name: String) throws(VFIOError) -> Loaded {
    let before = modules.loadedModules()
    let order: [String]
    order = try modules.loadOrder(name)
    let planned = order.filter { !before.contains($0) && modules.state($0) != .builtIn }
    for m in planned {
      do { try journal.record(.module, m, "loaded for \(name)") } catch {
        for r in planned { journal.forget(.module, r) }
        throw .resourceJournal(error)
      }
    }
    let outcome: KernelModules.LoadOutcome
    do {
      outcome = try modules.load(name)
    } catch {
      let brought = orderedNew(before: before, order: order)
      let left = unload(brought).filter { !$0.result.isGone }.map(\.module)
      for m in planned where !left.contains(m) { journal.forget(.module, m) }
      throw left.isEmpty ? error : .moduleRollback(error, left: left)
    }
    let brought = orderedNew(before: before, order: order)
    for m in brought where !planned.contains(m) {
      do { try journal.record(.module, m, "loaded for \(name)") } catch { throw .resourceJournal(error) }
    }
    for m in planned where !brought.contains(m) { journal.forget(.module, m) }
    return Loaded(outcome: outcome, brought: brought)
  }

  /// The modules loaded now and not `before`: those of `order` first, in its order, then any
  /// other (loaded by a module's init, or by someone else meanwhile), sorted.
  private func orderedNew(before: Set<String>, order: [String]) -> [String] {
    let new = modules.loadedModules().subtracting(before)
    return order.filter(new.contains) + new.subtracting(order).sorted()
  }

  /// What unloading one journaled module did.
  public enum Unloaded: Equatable, Sendable, CustomStringConvertible {
    case unloaded
    case notLoaded
    case builtIn
    case failed(VFIOError)
    /// Left loaded: these modules hold it and could not be unloaded.
    case heldBy([String])

    /// Whether the module is no longer loaded by anyone's doing here (its record is dropped).
    public var isGone: Bool {
      switch self {
      case .unloaded, .notLoaded, .builtIn: true
      case .failed, .heldBy: false
      }
    }

    public var description: String {
      switch self {
      case .unloaded: "unloaded"
      case .notLoaded: "not loaded (nothing to unload)"
      case .builtIn: "built in (nothing to unload)"
      case .failed(let e): e.description
      case .heldBy(let holders): "left loaded: \(holders.joined(separator: ", ")), which \(holders.count == 1 ? "holds" : "hold") it, could not be unloaded"
      }
    }
  }

  /// Unloads `names`, each after those of them that hold it; drops the journal record of each
  /// module that is gone (unloaded, not loaded, built in) and keeps the others.
  public func unload(_ names: [String]) -> [(module: String, result: Unloaded)] {
    var remaining: [String] = []
    for n in names where !remaining.contains(n) { remaining.append(n) }
    var out: [(module: String, result: Unloaded)] = []
    var stuck: Set<String> = []
    func attempt(_ m: String) {
      let result: Unloaded
      let blockers = modules.holders(m).filter(stuck.contains)
      if !blockers.isEmpty {
        result = .heldBy(blockers)
      } else {
        do {
          switch try modules.unload(m) {
          case .unloaded: result = .unloaded
          case .notLoaded: result = .notLoaded
          case .builtIn: result = .builtIn
          }
        } catch .moduleLoad(.notFound) {
          result = .notLoaded
        } catch {
          result = .failed(error)
        }
      }
      if result.isGone { journal.forget(.module, m) } else { stuck.insert(m) }
      out.append((m, result))
    }
    while !remaining.isEmpty {
      // Those no remaining module holds; if every one is held by another (a cycle, which
      // modules cannot form), all of them.
      let ready = remaining.filter { m in !modules.holders(m).contains { $0 != m && remaining.contains($0) } }
      for m in ready.isEmpty ? remaining : ready { attempt(m) }
      remaining.removeAll { m in out.contains { $0.module == m } }
    }
    return out
  }

  /// Unloads every journaled module (what a killed run left), holders first.
  public func unloadJournaled() -> [(module: String, result: Unloaded)] {
    unload(journal.entries(.module))
  }
}
