// The article's readers call directIO_copy(src, dst) from C++. With zcio they keep
// that call as it is: include zcio.h, link -lzcio, and drop the pasted function.
//
// usage: dropin SRC DST
#include <cerrno>
#include <cstring>
#include <iostream>

#include "zcio.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " SRC DST\n";
        return 2;
    }
    if (!directIO_copy(argv[1], argv[2])) {
        std::cerr << "directIO_copy failed: " << std::strerror(errno) << "\n";
        return 1;
    }
    std::cout << "copied " << argv[1] << " to " << argv[2] << " with zcio " << zc_version()
              << "\n";
    return 0;
}
