//! `#[obsync_sdk::format]` and `#[obsync_sdk::filter]`: mark one function of a module crate and
//! the ABI exports are generated around it. Use them through `obsync-sdk`, which re-exports them.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

/// Exports `fn(&FormatBatch) -> Result<FormatOutput, String>` as the module's format entry point.
#[proc_macro_attribute]
pub fn format(_attr: TokenStream, item: TokenStream) -> TokenStream {
    export(item, quote!(export_format))
}

/// Exports `fn(&RowBatch<'_>) -> Result<FormatOutput, String>` as the module's format entry
/// point, reading rows straight from the input buffer (see `obsync_sdk::view`).
#[proc_macro_attribute]
pub fn format_rows(_attr: TokenStream, item: TokenStream) -> TokenStream {
    export(item, quote!(export_format_rows))
}

/// Exports `fn(&FilterBatch) -> Result<FilterOutput, String>` as the module's filter entry point.
#[proc_macro_attribute]
pub fn filter(_attr: TokenStream, item: TokenStream) -> TokenStream {
    export(item, quote!(export_filter))
}

fn export(item: TokenStream, which: proc_macro2::TokenStream) -> TokenStream {
    let f = parse_macro_input!(item as ItemFn);
    let name = &f.sig.ident;
    quote! {
        #f
        ::obsync_sdk::#which!(#name);
    }
    .into()
}
