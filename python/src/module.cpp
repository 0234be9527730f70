#include "bindings.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "lucid's C++ core. Use the `lucid` package, not this module.";
  // Errors arrive as the Python exception their kind names.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lucid::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const lucid::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const lucid::MemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const lucid::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  lucid::python::bind_tensor(m);
  lucid::python::bind_ops(m);
  lucid::python::bind_nn(m);
}
