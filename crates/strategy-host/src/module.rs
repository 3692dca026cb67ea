//! Validating and compiling a module.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use strategy_sdk::abi::{WasmType, ABI_VERSION, EXPORTS};
use wasmtime::{Config, Engine, ExternType, Instance, Module, OptLevel, Store, ValType};

/// The largest module accepted (an SMA crossover is about 60 KiB).
pub const MAX_MODULE_BYTES: usize = 4 << 20;

/// Fuel for the validation call to `halyard_abi_version`.
const VALIDATION_FUEL: u64 = 100_000;

/// The SHA-256 of a module's bytes, in lowercase hex: its identity everywhere.
#[must_use]
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why a module is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// Too big to accept.
    #[error("module is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// [`MAX_MODULE_BYTES`].
        limit: usize,
    },
    /// Not a WebAssembly module the runtime accepts.
    #[error("not a valid WebAssembly module: {0}")]
    Invalid(String),
    /// It imports something; strategy modules must be self-contained.
    #[error("module imports {0}; a strategy module may import nothing (no clock, I/O or host calls)")]
    Imports(String),
    /// A function of the ABI is missing or has other types.
    #[error("module does not export `{name}` as {expected}: build it with the strategy-sdk's export_strategy!")]
    Export {
        /// The export's name.
        name: &'static str,
        /// Its signature in the ABI.
        expected: String,
    },
    /// No exported linear memory called `memory`.
    #[error("module exports no memory called `memory`")]
    Memory,
    /// It speaks another version of the ABI.
    #[error("module speaks ABI version {found}; this engine speaks {ABI_VERSION}")]
    AbiVersion {
        /// What `halyard_abi_version` returned.
        found: i32,
    },
    /// Its start-up code failed.
    #[error("module failed to start: {0}")]
    Start(String),
}

/// What validation found out about a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// [`digest`] of its bytes.
    pub digest: String,
    /// Its size in bytes.
    pub size: usize,
}

/// A validated, compiled module, ready to be started any number of times.
#[derive(Debug)]
pub struct StrategyModule {
    info: ModuleInfo,
    module: Module,
}

/// The one compiler and runtime configuration of the process: fuel metering on (the per-event
/// budget), Cranelift optimising for speed, and a small wasm stack (deep recursion traps early).
pub(crate) fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.consume_fuel(true);
        config.cranelift_opt_level(OptLevel::Speed);
        config.max_wasm_stack(256 << 10);
        Engine::new(&config).expect("the sandbox's fixed wasmtime configuration is valid")
    })
}

fn signature(params: &[WasmType], result: WasmType) -> String {
    let name = |ty: &WasmType| match ty {
        WasmType::I32 => "i32",
        WasmType::I64 => "i64",
    };
    format!("fn({}) -> {}", params.iter().map(name).collect::<Vec<_>>().join(", "), name(&result))
}

fn matches(ty: &ValType, expected: WasmType) -> bool {
    matches!((ty, expected), (ValType::I32, WasmType::I32) | (ValType::I64, WasmType::I64))
}

impl StrategyModule {
    /// Validates and compiles `bytes`.
    ///
    /// # Errors
    /// [`ModuleError`] saying what is wrong with the module.
    pub fn compile(bytes: &[u8]) -> Result<Self, ModuleError> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(ModuleError::TooLarge { size: bytes.len(), limit: MAX_MODULE_BYTES });
        }
        let module = Module::new(engine(), bytes).map_err(|error| ModuleError::Invalid(format!("{error:#}")))?;
        let imports: Vec<String> = module.imports().map(|import| format!("`{}.{}`", import.module(), import.name())).collect();
        if !imports.is_empty() {
            return Err(ModuleError::Imports(imports.join(", ")));
        }
        for (name, params, result) in EXPORTS {
            let expected = || ModuleError::Export { name, expected: signature(params, *result) };
            let Some(ExternType::Func(func)) = module.get_export(name) else { return Err(expected()) };
            let params_match =
                func.params().len() == params.len() && func.params().zip(params.iter()).all(|(ty, want)| matches(&ty, *want));
            let results: Vec<ValType> = func.results().collect();
            if !params_match || results.len() != 1 || !matches(&results[0], *result) {
                return Err(expected());
            }
        }
        if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
            return Err(ModuleError::Memory);
        }
        let module = Self { info: ModuleInfo { digest: digest(bytes), size: bytes.len() }, module };
        let found = module.abi_version()?;
        if found != ABI_VERSION {
            return Err(ModuleError::AbiVersion { found });
        }
        Ok(module)
    }

    /// Its digest and size.
    #[must_use]
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    pub(crate) fn module(&self) -> &Module {
        &self.module
    }

    fn abi_version(&self) -> Result<i32, ModuleError> {
        let start = |error: wasmtime::Error| ModuleError::Start(format!("{error:#}"));
        let mut store = Store::new(engine(), ());
        store.set_fuel(VALIDATION_FUEL).map_err(start)?;
        let instance = Instance::new(&mut store, &self.module, &[]).map_err(start)?;
        let version = instance.get_typed_func::<(), i32>(&mut store, "halyard_abi_version").map_err(start)?;
        version.call(&mut store, ()).map_err(start)
    }
}
