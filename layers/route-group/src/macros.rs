//! Crate-private macros.

/// The accessor trio of a middleware service over `inner`.
macro_rules! accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Takes the inner service out.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
pub(crate) use accessors;
