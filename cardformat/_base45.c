/* Base45 decoding (RFC 9285) in C: the optional accelerator of cardformat/base45.py.
 *
 * Why C: every card verification decodes about 250 characters of base45 before the Ed25519
 * check, and the verify rate must stay within 15% of the bare signature check. The pure-Python
 * decoder (whole-string byte operations) takes about 3.5 us per card here, this one about
 * 0.15 us. Nothing else of the format is in C: this is the one step where an interpreter loop
 * cannot be avoided, and it is small enough to check by eye.
 *
 * Contract, relied on by base45.py: decode(text, start) decodes text[start:] and returns the
 * bytes, or None when that is not canonical base45 (a character outside the alphabet, a length
 * of 3n+1, a chunk above 65535 or a final pair above 255) or when text holds any non-ASCII
 * character at all, even before start. On None the caller runs the pure-Python decoder, which
 * decides and raises the precise error; so this module never has to agree on messages, only
 * on the bytes of every ASCII text it accepts (a unit test checks it on random and hostile
 * texts).
 *
 * Memory safety: the input is read only at indices below its length (the loop bounds are
 * checked against n before each read) and the output buffer is sized exactly from n.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Value of each byte in the base45 alphabet, -1 for every other byte. */
static signed char VALUES[256];

static PyObject *
decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "decode(text: str, start: int)");
        return NULL;
    }
    PyObject *text = args[0];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    /* An ASCII str is stored one byte per character; anything else is not base45. */
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    if (start < 0 || start > length) {
        Py_RETURN_NONE;
    }
    const unsigned char *in = PyUnicode_1BYTE_DATA(text) + start;
    Py_ssize_t n = length - start;
    if (n % 3 == 1) {
        Py_RETURN_NONE;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, n / 3 * 2 + (n % 3 == 2));
    if (result == NULL) {
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    Py_ssize_t i = 0;
    for (; n - i >= 3; i += 3) {
        int c = VALUES[in[i]], d = VALUES[in[i + 1]], e = VALUES[in[i + 2]];
        if ((c | d | e) < 0) {
            goto not_base45;
        }
        int value = c + 45 * d + 2025 * e;
        if (value > 0xFFFF) {
            goto not_base45;
        }
        *out++ = (unsigned char)(value >> 8);
        *out++ = (unsigned char)(value & 0xFF);
    }
    if (n - i == 2) {
        int c = VALUES[in[i]], d = VALUES[in[i + 1]];
        if ((c | d) < 0) {
            goto not_base45;
        }
        int value = c + 45 * d;
        if (value > 0xFF) {
            goto not_base45;
        }
        *out = (unsigned char)value;
    }
    return result;

not_base45:
    Py_DECREF(result);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"decode", (PyCFunction)(void (*)(void))decode, METH_FASTCALL,
     "decode(text, start) -> bytes | None: base45 of text[start:], None if not canonical."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "cardformat._base45",
    .m_doc = "Base45 decoding accelerator.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__base45(void)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    memset(VALUES, -1, sizeof VALUES);
    for (int i = 0; i < 45; i++) {
        VALUES[(unsigned char)alphabet[i]] = (signed char)i;
    }
    return PyModule_Create(&module_definition);
}
