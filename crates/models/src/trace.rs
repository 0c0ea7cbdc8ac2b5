//! Optional capture of intermediate activations, named like the reference fixtures' files
//! (`embed`, `layer0.q_proj_out`, ..., `final_norm_out`). When off, nothing is formatted or copied.

/// The sink of `Model::forward_traced`: called with a name and the activation, row-major f32.
pub type TraceFn<'a> = dyn FnMut(&str, &[f32]) + 'a;

pub(crate) struct Tracer<'t, 'f> {
    sink: Option<&'t mut TraceFn<'f>>,
}

impl<'t, 'f> Tracer<'t, 'f> {
    pub(crate) fn off() -> Self {
        Tracer { sink: None }
    }

    pub(crate) fn on(sink: &'t mut TraceFn<'f>) -> Self {
        Tracer { sink: Some(sink) }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Emits a model-level activation (`embed`, `final_norm_out`).
    pub(crate) fn emit(&mut self, name: &str, x: &[f32]) {
        if let Some(sink) = self.sink.as_mut() {
            sink(name, x);
        }
    }

    /// Emits `layer{layer}.{name}`.
    pub(crate) fn emit_layer(&mut self, layer: usize, name: &str, x: &[f32]) {
        if let Some(sink) = self.sink.as_mut() {
            sink(&format!("layer{layer}.{name}"), x);
        }
    }
}
