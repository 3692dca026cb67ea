//! The sandbox that runs traders' own strategies: WebAssembly modules built with the
//! `strategy-sdk` crate, driven through the domain's [`Strategy`] trait exactly as the built-ins
//! are, so the backtester, the paper venue and live trading run them unchanged.
//!
//! - [`StrategyModule::compile`] validates a module (size, the ABI's exports and their types, no
//!   imports at all, one memory) and compiles it once; modules are addressed by the SHA-256 of
//!   their bytes ([`digest`]).
//! - [`WasmStrategy`] is one running instance: its own store, a fuel budget per event, a memory
//!   ceiling. A trap, running out of fuel or growing past the ceiling stops the instance; it then
//!   answers every event with nothing and reports the reason through [`Strategy::fault`], and its
//!   driver disables it. The host process is never at risk: wasm cannot reach outside its memory.
//! - [`build_strategy`] extends the domain's registry with `module:<sha256>` names, resolved
//!   against the modules [`register`]ed in this process.
//!
//! Runtime: wasmtime 48 (a long-term-support release) with Cranelift; see docs/strategy-modules.md
//! for why and what it costs to build.

mod module;
mod sandbox;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use domain::strategy::{Strategy, StrategyBase, StrategyConfigError, StrategyParams};

pub use module::{digest, ModuleError, ModuleInfo, StrategyModule, MAX_MODULE_BYTES};
pub use sandbox::{ModuleLimits, WasmStrategy};

/// The prefix of a strategy name that refers to a module by its digest: `module:<sha256 hex>`.
pub const MODULE_PREFIX: &str = "module:";

/// The registry name of the module with `digest`.
#[must_use]
pub fn module_strategy_name(digest: &str) -> String {
    format!("{MODULE_PREFIX}{digest}")
}

/// The digest a `module:<sha256>` name refers to, if it is one.
#[must_use]
pub fn module_digest(name: &str) -> Option<&str> {
    name.strip_prefix(MODULE_PREFIX)
}

fn modules() -> &'static RwLock<HashMap<String, Arc<StrategyModule>>> {
    static MODULES: OnceLock<RwLock<HashMap<String, Arc<StrategyModule>>>> = OnceLock::new();
    MODULES.get_or_init(Default::default)
}

/// Makes a compiled module available to [`build_strategy`] in this process. Modules are
/// immutable and content-addressed, so registering one twice is harmless.
pub fn register(module: Arc<StrategyModule>) {
    let mut modules = modules().write().unwrap_or_else(std::sync::PoisonError::into_inner);
    modules.entry(module.info().digest.clone()).or_insert(module);
}

/// The registered module with `digest`.
#[must_use]
pub fn registered(digest: &str) -> Option<Arc<StrategyModule>> {
    modules().read().unwrap_or_else(std::sync::PoisonError::into_inner).get(digest).cloned()
}

/// Builds a strategy by registry name: a built-in by its name, a module by `module:<sha256>`
/// (which must have been [`register`]ed), under the default [`ModuleLimits`].
///
/// # Errors
/// [`StrategyConfigError`] for an unknown name, bad parameters, an unregistered module or one
/// that refused to start.
pub fn build_strategy(
    name: &str,
    params: &StrategyParams,
    base: StrategyBase,
) -> Result<Box<dyn Strategy>, StrategyConfigError> {
    let Some(digest) = module_digest(name) else {
        return domain::build_strategy(name, params, base);
    };
    let module = registered(digest).ok_or_else(|| StrategyConfigError::Rejected {
        strategy: name.to_owned(),
        reason: "no module with this digest has been uploaded".to_owned(),
    })?;
    Ok(Box::new(WasmStrategy::start(&module, params, base, ModuleLimits::default())?))
}
