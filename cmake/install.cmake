# Install layout (cmake --install, and the .deb via CPack: cmake/package.cmake)
#
#   bin/fsfilter                          the command
#   sbin/mount.fsfilter                   mount(8) helper, also reached as
#   sbin/mount.fuse.fsfilter              mount -t fuse.fsfilter (symlink)
#   lib/<multiarch>/libfsfilter-client.{so*,a}   clients of ports
#   lib/<multiarch>/pkgconfig/fsfilter-{filter,client}.pc
#   lib/<multiarch>/fsfilter/filters/     filter .so files (hello.so example)
#   include/fsfilter/{filter,scope,text,client,monitor}.h
#   share/man/man{1,3,5,7}/               man pages (man/)
#   share/bash-completion/completions/fsfilter
#   lib/systemd/system/fsfilter@.service  one volume per /etc/fsfilter/NAME.conf
#   share/doc/fsfilter/                   docs, examples, example config
include(GNUInstallDirs)

set(FSFILTER_FILTERDIR_REL ${CMAKE_INSTALL_LIBDIR}/fsfilter/filters)
set(FSFILTER_FILTERDIR ${CMAKE_INSTALL_FULL_LIBDIR}/fsfilter/filters)

install(TARGETS fsfilter RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS mount.fsfilter RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# mount(8) looks for /sbin/mount.fuse.fsfilter first for -t fuse.fsfilter
install(CODE "execute_process(COMMAND \${CMAKE_COMMAND} -E create_symlink
  mount.fsfilter
  \"\$ENV{DESTDIR}${CMAKE_INSTALL_FULL_SBINDIR}/mount.fuse.fsfilter\")")

install(FILES include/fsfilter/filter.h include/fsfilter/scope.h
        include/fsfilter/text.h include/fsfilter/monitor.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fsfilter)
# pkg-config files, written at install time: their prefix is the one of
# this install (cmake --install --prefix P, or CPack's /usr), not only the
# prefix given at configure time. With DESTDIR it stays the final prefix
# (what a package installs to; use PKG_CONFIG_SYSROOT_DIR for a staging
# tree). install(CODE) rules run in order, before the install(FILES).
function(fsfilter_install_pc template name)
  set(out ${CMAKE_BINARY_DIR}/pkgconfig-install/${name})
  install(CODE "
    set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
    set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(FSFILTER_FILTERDIR_REL \"${FSFILTER_FILTERDIR_REL}\")
    set(PROJECT_VERSION \"${PROJECT_VERSION}\")
    configure_file(\"${template}\" \"${out}\" @ONLY)")
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
fsfilter_install_pc(${CMAKE_SOURCE_DIR}/dist/fsfilter-filter.pc.in
                    fsfilter-filter.pc)
fsfilter_install_pc(${CMAKE_SOURCE_DIR}/lib/client/fsfilter-client.pc.in
                    fsfilter-client.pc)

install(TARGETS hello LIBRARY DESTINATION ${FSFILTER_FILTERDIR_REL})

install(FILES dist/fsfilter.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME fsfilter)
configure_file(dist/fsfilter@.service.in fsfilter@.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/fsfilter@.service
        DESTINATION lib/systemd/system)

install(FILES README.md dist/example.conf dist/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(FILES examples/filter/hello.c examples/clients/port_echo.c
              examples/scanner/scanner.c
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

foreach(page fsfilter.1 fsfilter.conf.5 fsfilter-redirect.7
             fsfilter-monitor.7 fsfilter-crypt.7 fsfilter-filter-api.3
             mount.fsfilter.8)
  if(EXISTS ${CMAKE_SOURCE_DIR}/man/${page})
    string(REGEX MATCH "[0-9]$" sec ${page})
    install(FILES man/${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec})
  endif()
endforeach()
