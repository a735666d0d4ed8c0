/* ProcessPrng for Wine 8 (Debian 12), which lacks bcryptprimitives.dll: Rust's standard library
 * (1.78+) draws its random numbers from it on Windows. Real Windows 10 and later ship the DLL;
 * this shim is only put beside binaries run under Wine by `cargo xtask wine`. It forwards to
 * BCryptGenRandom with the system RNG, which Wine implements. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
